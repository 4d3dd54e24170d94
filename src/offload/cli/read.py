"""`offload task read URL TASK_ID [--item N] [--lines A:B | --bytes A:B] [-o FILE] [--json]`.

Reads an item that the server offloaded from a task's result (the result shows a preview and a
`resource_link` instead), whole or a range, and writes it to stdout or a file. The first item is
read unless `--item` names another (N is the number at the end of the link, `.../blob/N`). Reads
larger than the server's per-read limit continue where the last stopped, so a whole 100 MB log
streams to the file in pieces.

Exit status: 0 read, 1 the task, item or range is not there (or the server refused), 2 usage,
3 the server could not be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import anyio
import httpx2

from offload.client import RpcError, WireClient
from offload.client.reads import offload_links, read_all
from offload.protocol.links import parse_span

__all__ = ["add_read_parser"]


def add_read_parser(task_sub: Any) -> None:
    """Add `read` to the `offload task` subcommands."""
    p = task_sub.add_parser(
        "read",
        help="read an offloaded item of a task's result, whole or --lines A:B / --bytes A:B",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("url", metavar="URL")
    p.add_argument("task_id", metavar="TASK_ID")
    p.add_argument("--item", type=int, metavar="N", help="which offloaded item (default: the first)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--lines", metavar="A:B", help="lines A..B, 1-based, inclusive; -N counts from the end")
    which.add_argument("--bytes", dest="byte_range", metavar="A:B", help="bytes A..B-1, 0-based")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.add_argument("--json", dest="json_out", action="store_true", help="print each read as JSON (range and text)")
    p.add_argument("--token", default=os.environ.get("OFFLOAD_TOKEN"), help="bearer token (default: $OFFLOAD_TOKEN)")
    p.set_defaults(func=_main)


def _fail(message: str, code: int = 1) -> int:
    sys.stderr.write(f"offload: {' '.join(message.split())}\n")
    return code


def _main(args: argparse.Namespace) -> int:
    try:
        if args.lines is not None:
            parse_span(args.lines, "--lines")
        if args.byte_range is not None and ":" not in args.byte_range:
            raise ValueError("--bytes must be a range A:B (0-based, end exclusive), A: or :B")
    except ValueError as exc:
        return _fail(str(exc), 2)
    try:
        return anyio.run(_read, args)
    except RpcError as exc:
        return _fail(f"{exc.message} (JSON-RPC error {exc.code})")
    except httpx2.TransportError as exc:
        return _fail(f"cannot reach {args.url}: {exc}", 3)
    except (ValueError, OSError) as exc:
        return _fail(str(exc))


async def _read(args: argparse.Namespace) -> int:
    async with WireClient(args.url, token=args.token) as wire:
        task = await wire.result("tasks/get", {"taskId": args.task_id})
        if task.get("status") != "completed":
            return _fail(f"task {args.task_id} is {task.get('status')}: only a completed task has a result to read")
        links = offload_links(task.get("result") or {})
        if args.item is not None:
            links = [link for link in links if str(link["uri"]).endswith(f"/blob/{args.item}")]
        if not links:
            what = "that item" if args.item is not None else "no offloaded item: its result is all in tasks/get"
            return _fail(f"task {args.task_id} has {what}")
        uri = str(links[0]["uri"])
        out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115 - closed below
        try:
            async for piece in read_all(wire, uri, lines=args.lines, bytes_=args.byte_range):
                if args.json_out:
                    shown = {"uri": piece.uri, "mimeType": piece.mime_type, "size": piece.size, **piece.range}
                    shown["text" if piece.text is not None else "bytes"] = piece.text or len(piece.data)
                    out.write((json.dumps(shown, ensure_ascii=False) + "\n").encode())
                else:
                    out.write(piece.data)
                out.flush()
        finally:
            if out is not sys.stdout.buffer:
                out.close()
    return 0
