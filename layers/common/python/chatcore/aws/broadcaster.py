"""Fan-out through the API Gateway Management API (``POST /@connections/{id}``) on a bounded thread pool.

:class:`Broadcaster` is the delivery policy (who is tried, how often, what counts as gone); the client it
posts with is boto3's or :class:`chatcore.aws.management.SignedManagementClient`, which the functions use.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chatcore.observability import logger
from chatcore.records import BroadcastResult, Delivery
from chatcore.rules import DEFAULT_MAX_WORKERS


class ManagementApi(Protocol):
    """What the broadcaster needs of a Management API client: boto3's, or the signed one of
    :mod:`chatcore.aws.management`."""

    @property
    def exceptions(self) -> Any: ...

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> Any: ...

    def get_connection(self, *, ConnectionId: str) -> Any: ...

    def delete_connection(self, *, ConnectionId: str) -> Any: ...


class Broadcaster:
    """Posts one payload to many connections over one reused Management API client.

    What it guarantees, in the manner of ``websockets.broadcast()``:

    * every connection id given is *tried*, once per distinct id (duplicates are collapsed), and ends in
      exactly one of ``delivered``, ``gone`` or ``failed``;
    * a dead connection (``GoneException``, HTTP 410) lands in ``gone`` and is never tried again;
    * one failing recipient never stops the others: posts run on at most ``max_workers`` threads, and a
      recipient's error is recorded, never raised;
    * throttling (429), 5xx answers and transport errors are retried with backoff by the client (up to
      its ``max_attempts``) before a recipient counts as ``failed``.

    What it does not guarantee: a retried post whose earlier attempt reached API Gateway (an answer lost
    in transit, or a keep-alive connection the server closed after reading the request) can be delivered
    twice, so clients deduplicate frames by message id; a connection that drops while its post is in
    flight may not get it (it catches up with ``since``); and two broadcasts running at once have no
    order between them.
    """

    def __init__(self, client: ManagementApi, max_workers: int = DEFAULT_MAX_WORKERS) -> None:
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
        except Exception:  # one connection's surprise must not stop a prune run
            logger.exception("get_connection raised", extra={"connection_id": connection_id})
            return Delivery.FAILED
        return Delivery.DELIVERED

    def close(self, connection_id: str) -> Delivery:
        """Close a connection (``DELETE /@connections/{id}``): API Gateway then runs ``$disconnect``."""
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except self._client.exceptions.GoneException:
            return Delivery.GONE
        except (ClientError, BotoCoreError) as exc:
            logger.warning("delete_connection failed", extra={"connection_id": connection_id, "error": str(exc)})
            return Delivery.FAILED
        return Delivery.DELIVERED

    def broadcast(self, connection_ids: Iterable[str], data: bytes) -> BroadcastResult:
        """Post ``data`` to every connection in ``connection_ids``; see the class for the guarantees."""
        targets = list(dict.fromkeys(connection_ids))
        result = BroadcastResult.empty()
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
