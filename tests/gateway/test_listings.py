"""offload.gateway.listings: list-changed signals are matched on their class, and invalidate the cache."""

from __future__ import annotations

from typing import Any

import anyio
import mcp_types as types
from mcp.shared.subscriptions import PromptsListChanged, ResourcesListChanged, ResourceUpdated, ToolsListChanged

from offload.gateway.listings import Listings, changed_kinds, updated_uri


def test_signals_of_both_eras_map_to_the_listings_they_invalidate() -> None:
    assert changed_kinds(ToolsListChanged()) == ("tools",)
    assert changed_kinds(PromptsListChanged()) == ("prompts",)
    assert changed_kinds(ResourcesListChanged()) == ("resources", "templates")
    assert changed_kinds(types.ToolListChangedNotification()) == ("tools",)
    assert changed_kinds(types.PromptListChangedNotification()) == ("prompts",)
    assert changed_kinds(types.ResourceListChangedNotification()) == ("resources", "templates")
    assert changed_kinds(ResourceUpdated(uri="file:///a")) == ()

    class ToolsListChangedLookalike:  # same name, other class: no match on names any more
        pass

    assert changed_kinds(ToolsListChangedLookalike()) == ()
    assert updated_uri(ResourceUpdated(uri="file:///a")) == "file:///a"
    note = types.ResourceUpdatedNotification(params=types.ResourceUpdatedNotificationParams(uri="file:///b"))
    assert updated_uri(note) == "file:///b"
    assert updated_uri(ToolsListChanged()) is None


def test_listings_are_cached_until_invalidated_and_a_raced_fetch_is_not_cached() -> None:
    async def scenario() -> list[Any]:
        listings = Listings()
        calls: list[int] = []

        async def fetch() -> list[Any]:
            calls.append(1)
            return [len(calls)]

        out = [await listings.get("tools", fetch), await listings.get("tools", fetch)]
        listings.invalidate("prompts")
        out.append(await listings.get("tools", fetch))
        listings.invalidate("tools")
        out.append(await listings.get("tools", fetch))

        async def racing() -> list[Any]:
            listings.invalidate("tools")  # a list-changed signal arrives while the fetch is in flight
            return ["stale"]

        listings.invalidate()
        out.append(await listings.get("tools", racing))
        out.append(await listings.get("tools", fetch))
        return out

    assert anyio.run(scenario) == [[1], [1], [1], [2], ["stale"], [3]]
