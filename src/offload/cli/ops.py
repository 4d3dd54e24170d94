"""`offload admin` and `offload console`: their parsers live with the operations package (`offload.ops`)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parsers"]


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    from offload.ops.admin import add_admin_parser
    from offload.ops.console import add_console_parser

    add_admin_parser(sub)
    add_console_parser(sub)
