"""Pydantic models of the API Gateway WebSocket events, from Powertools, with what the chat reads."""

# Not `from __future__ import annotations`: pydantic would then evaluate each annotation's string when a model
# class is created; real annotations cost a cold start less (about 2 ms for the frame models).
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from pydantic import ConfigDict, Field


class ConnectEvent(APIGatewayWebSocketConnectEventModel):
    """``$connect``: Powertools' model plus the query string, where browsers put the token.

    Its validator is built on first use (``defer_build``), so the other functions, which import this module for
    their own events, do not build it on their cold starts (about 4 ms)."""

    model_config = ConfigDict(defer_build=True)

    query_string_parameters: dict[str, str] | None = Field(None, alias="queryStringParameters")

    @property
    def token(self) -> str | None:
        return (self.query_string_parameters or {}).get("token")

    @property
    def origin(self) -> str | None:
        for name, value in self.headers.items():
            if name.lower() == "origin":
                return value
        return None


MessageEvent = APIGatewayWebSocketMessageEventModel
DisconnectEvent = APIGatewayWebSocketDisconnectEventModel

__all__ = ["ConnectEvent", "DisconnectEvent", "MessageEvent"]
