"""Fan-out through the API Gateway Management API (``POST /@connections/{id}``)."""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from chatcore.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_apigatewaymanagementapi import ApiGatewayManagementApiClient

DEFAULT_MAX_WORKERS = 32


class Delivery(Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"


@dataclass(slots=True)
class BroadcastResult:
    delivered: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    """Connections API Gateway no longer knows (410): the caller should forget them."""
    failed: list[str] = field(default_factory=list)
    """Connections whose post failed for another reason after the client's retries."""

    def add(self, connection_id: str, outcome: Delivery) -> None:
        {
            Delivery.DELIVERED: self.delivered,
            Delivery.GONE: self.gone,
            Delivery.FAILED: self.failed,
        }[outcome].append(connection_id)


class Broadcaster:
    """Posts one payload to many connections over one reused Management API client.

    Guarantees, in the manner of ``websockets.broadcast()``:

    * every connection id given is attempted exactly once (duplicates are collapsed);
    * a dead connection (``GoneException``, HTTP 410) is reported in ``gone`` and never retried;
    * one failing recipient never stops or delays the others beyond the bounded pool: posts run on at
      most ``max_workers`` threads, and throttling (429) or 5xx answers are retried with backoff by the
      client's retry configuration before a recipient counts as ``failed``;
    * nothing here raises for a recipient's failure; the result says what happened to each.

    It does not guarantee delivery to a connection that drops while the post is in flight, nor any
    ordering between two broadcasts running at the same time.
    """

    def __init__(self, client: ApiGatewayManagementApiClient, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
        self._client = client
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def send(self, connection_id: str, data: bytes) -> Delivery:
        """Post ``data`` to one connection."""
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except self._client.exceptions.GoneException:
            return Delivery.GONE
        except ClientError as exc:
            logger.warning(
                "post_to_connection failed",
                extra={"connection_id": connection_id, "error": exc.response.get("Error", {}).get("Code")},
            )
            return Delivery.FAILED
        except BotoCoreError as exc:
            logger.warning("post_to_connection failed", extra={"connection_id": connection_id, "error": str(exc)})
            return Delivery.FAILED
        except Exception:  # one recipient's surprise must not stop the others
            logger.exception("post_to_connection raised", extra={"connection_id": connection_id})
            return Delivery.FAILED
        return Delivery.DELIVERED

    def probe(self, connection_id: str) -> Delivery:
        """Ask API Gateway whether a connection is still there (``GET /@connections/{id}``)."""
        try:
            self._client.get_connection(ConnectionId=connection_id)
        except self._client.exceptions.GoneException:
            return Delivery.GONE
        except (ClientError, BotoCoreError) as exc:
            logger.warning("get_connection failed", extra={"connection_id": connection_id, "error": str(exc)})
            return Delivery.FAILED
        return Delivery.DELIVERED

    def broadcast(self, connection_ids: Iterable[str], data: bytes) -> BroadcastResult:
        """Post ``data`` to every connection in ``connection_ids``; see the class for the guarantees."""
        targets = list(dict.fromkeys(connection_ids))
        result = BroadcastResult()
        if len(targets) <= 1:
            for connection_id in targets:
                result.add(connection_id, self.send(connection_id, data))
            return result
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="broadcast")
        outcomes = self._pool.map(lambda cid: self.send(cid, data), targets)
        for connection_id, outcome in zip(targets, outcomes, strict=True):
            result.add(connection_id, outcome)
        return result
