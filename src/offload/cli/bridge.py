"""`offload bridge`: the command's parser lives with the bridge (`offload.bridge.cli`)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_parsers"]


def add_parsers(sub: Any, formatter: type[argparse.HelpFormatter]) -> None:
    from offload.bridge.cli import add_bridge_parser

    add_bridge_parser(sub)
