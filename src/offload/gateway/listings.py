"""An upstream's tools, prompts, resources and templates, listed once and kept until they change.

A listing is fetched (every page) on first use and cached; the upstream's list-changed signals
invalidate it: notifications on a 2025-11-25 connection, `subscriptions/listen` events from a
2026-07-28 one. Both arrive as SDK types and are matched on their class. A reconnect invalidates
everything, since a restarted server may list other things.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.client import Client
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged

__all__ = ["KINDS", "ListKind", "Listings", "changed_kinds", "fetch_all", "updated_uri"]

ListKind = str  # "tools" | "prompts" | "resources" | "templates"
KINDS: tuple[ListKind, ...] = ("tools", "prompts", "resources", "templates")
PAGE_CAP = 100

# What each list-changed signal invalidates: resources and templates are announced together.
_CHANGES: dict[type, tuple[ListKind, ...]] = {
    ToolsListChanged: ("tools",),
    PromptsListChanged: ("prompts",),
    ResourcesListChanged: ("resources", "templates"),
    types.ToolListChangedNotification: ("tools",),
    types.PromptListChangedNotification: ("prompts",),
    types.ResourceListChangedNotification: ("resources", "templates"),
}


def changed_kinds(signal: object) -> tuple[ListKind, ...]:
    """The listings a list-changed event or notification invalidates; () for anything else."""
    return _CHANGES.get(type(signal), ())


def updated_uri(signal: object) -> str | None:
    """The resource a resource-updated event or notification names, else None."""
    if isinstance(signal, ResourceUpdated):
        return signal.uri
    if isinstance(signal, types.ResourceUpdatedNotification):
        return str(signal.params.uri)
    return None


class Listings:
    """Cached listings of one upstream. A fetch that raced an invalidation is returned, not cached."""

    def __init__(self) -> None:
        self._items: dict[ListKind, list[Any] | None] = dict.fromkeys(KINDS)
        self._generation: dict[ListKind, int] = dict.fromkeys(KINDS, 0)
        self._locks: dict[ListKind, anyio.Lock] = {k: anyio.Lock() for k in KINDS}

    def invalidate(self, *kinds: ListKind) -> None:
        for kind in kinds or KINDS:
            self._items[kind] = None
            self._generation[kind] += 1

    async def get(self, kind: ListKind, fetch: Callable[[], Awaitable[list[Any]]]) -> list[Any]:
        cached = self._items[kind]
        if cached is not None:
            return cached
        async with self._locks[kind]:
            cached = self._items[kind]
            if cached is not None:
                return cached
            generation = self._generation[kind]
            items = await fetch()
            if generation == self._generation[kind]:
                self._items[kind] = items
            return items


async def fetch_all(client: Client, kind: ListKind) -> list[Any]:
    """Every page of one listing, as one list; [] when the server lacks the capability."""
    caps = client.server_capabilities
    capability = {"tools": caps.tools, "prompts": caps.prompts}.get(kind, caps.resources)
    if capability is None:
        return []
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(PAGE_CAP):
        page: Any
        if kind == "tools":
            page = await client.list_tools(cursor=cursor, cache_mode="bypass")
            items.extend(page.tools)
        elif kind == "prompts":
            page = await client.list_prompts(cursor=cursor, cache_mode="bypass")
            items.extend(page.prompts)
        elif kind == "resources":
            page = await client.list_resources(cursor=cursor, cache_mode="bypass")
            items.extend(page.resources)
        else:
            page = await client.list_resource_templates(cursor=cursor, cache_mode="bypass")
            items.extend(page.resource_templates)
        cursor = page.next_cursor
        if not cursor:
            break
    return items
