"""Which downstream caller a server-to-client request from an upstream belongs to, and asking it.

- 2026-07-28 upstream: the SDK client resolves an MRTR `InputRequiredResult` inside the `call_tool`
  await of the call itself, so `CURRENT_CALL` (a context variable) names the call exactly.
- 2025-11-25 upstream: the request arrives on the connection with nothing in it that names the
  `tools/call` it serves (no related request id, no progress token in `_meta`). It is routed to the
  only call in flight on that connection; with several in flight it is refused with an error that
  says so. (See README "Gateway" limits.)

The question travels on the downstream request's own channel (`ctx.session.send_request`): for a
task that parks it as an `inputRequest` until `tasks/update` answers; inline it rides the caller's
stream (2025-11-25 callers) or fails (no back-channel at 2026-07-28).
"""

from __future__ import annotations

import logging
from typing import TypeVar

import mcp_types as types
from mcp.client.session import ClientRequestContext
from mcp.shared.exceptions import MCPError, NoBackChannelError
from mcp.shared.message import ServerMessageMetadata
from mcp_types import INVALID_REQUEST
from pydantic import BaseModel, ValidationError

from offload.gateway.link import CURRENT_CALL, Call, Link

__all__ = ["InputRouter"]

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound=BaseModel)


class InputRouter:
    """The elicitation and sampling callbacks of one upstream's SDK client."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.link: Link | None = None  # the live connection, set by the supervisor

    def owner(self, method: str) -> Call | types.ErrorData:
        call = CURRENT_CALL.get()
        if call is not None:
            return call
        calls = list(self.link.calls) if self.link is not None else []
        if len(calls) == 1:
            return calls[0]
        if not calls:
            why = f"no tools/call is in flight on upstream {self.name!r}, so there is no caller to ask"
        else:
            version = self.link.protocol_version if self.link is not None else "this"
            why = (
                f"{len(calls)} tools/call requests are in flight on upstream {self.name!r} and a "
                f"{version} server-to-client request does not say which one it belongs to"
            )
        logger.warning("upstream %s: refused %s: %s", self.name, method, why)
        return types.ErrorData(code=INVALID_REQUEST, message=f"offload gateway cannot route {method}: {why}")

    async def ask(
        self, request: types.ElicitRequest | types.CreateMessageRequest, result_type: type[ModelT]
    ) -> ModelT | types.ErrorData:
        owner = self.owner(request.method)
        if isinstance(owner, types.ErrorData):
            return owner
        ctx = owner.context.request_context
        try:
            return await ctx.session.send_request(
                request, result_type, metadata=ServerMessageMetadata(related_request_id=ctx.request_id)
            )
        except NoBackChannelError as exc:
            owner.unanswerable = request.method  # the call then fails -32021 downstream (see Upstream.call_tool)
            return exc.error
        except MCPError as exc:
            return exc.error
        except ValidationError as exc:
            message = f"the answer to {request.method} is not a valid result: {exc.errors()[:3]}"
            return types.ErrorData(code=INVALID_REQUEST, message=message)

    async def on_elicit(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        return await self.ask(types.ElicitRequest(params=params), types.ElicitResult)

    async def on_sample(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult | types.CreateMessageResultWithTools | types.ErrorData:
        result_type: type[types.CreateMessageResult] | type[types.CreateMessageResultWithTools]
        result_type = types.CreateMessageResultWithTools if params.tools else types.CreateMessageResult
        return await self.ask(types.CreateMessageRequest(params=params), result_type)
