"""`missing_for`: which declared capability a server-to-client request needs."""

from __future__ import annotations

from offload.protocol.capabilities import missing_for


def test_elicitation_modes() -> None:
    form = {"message": "?", "requestedSchema": {}}
    url = {"mode": "url", "message": "?", "url": "https://example.com", "elicitationId": "e1"}
    assert missing_for("elicitation/create", form, {}) == {"elicitation": {"form": {}}}
    assert missing_for("elicitation/create", form, {"elicitation": {}}) is None  # empty: form mode
    assert missing_for("elicitation/create", form, {"elicitation": {"url": {}}}) == {"elicitation": {"form": {}}}
    assert missing_for("elicitation/create", url, {"elicitation": {}}) == {"elicitation": {"url": {}}}
    assert missing_for("elicitation/create", url, {"elicitation": {"url": {}}}) is None


def test_sampling_and_roots() -> None:
    plain = {"messages": [], "maxTokens": 5}
    tools = {**plain, "tools": [{"name": "t", "inputSchema": {"type": "object"}}]}
    assert missing_for("sampling/createMessage", plain, {"roots": {}}) == {"sampling": {}}
    assert missing_for("sampling/createMessage", plain, {"sampling": {}}) is None
    assert missing_for("sampling/createMessage", tools, {"sampling": {}}) == {"sampling": {"tools": {}}}
    assert missing_for("roots/list", {}, {"sampling": {}}) == {"roots": {}}
    assert missing_for("roots/list", {}, {"roots": {"listChanged": True}}) is None


def test_unknown_capabilities_are_not_gated() -> None:
    assert missing_for("elicitation/create", {}, None) is None
    assert missing_for("custom/method", {}, {}) is None
