"""The one error hierarchy of the chat: raised by the domain and the adapters, mapped to a WebSocket
``error`` frame by :mod:`chatcore.service.chat` and to an HTTP status by :mod:`chatcore.http.errors`."""


class ChatError(Exception):
    """Base class of the errors the chat raises on purpose."""


class Unauthorized(ChatError):
    """The caller's credentials are missing, invalid or expired."""


class Forbidden(ChatError):
    """The caller is known but may not do this."""


class NotFound(ChatError):
    """The addressed user, room or message does not exist."""


class Conflict(ChatError):
    """The request collides with existing state (for example a taken username)."""


class InvalidInput(ChatError):
    """A well-formed request that asks for something impossible (for example a chat with oneself)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class TooManyAttempts(ChatError):
    """Too many recent failures for this username or address; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed attempts; try again later")
        self.retry_after = retry_after


class LimitExceeded(ChatError):
    """A cap on what one account may do or hold (see the README's caps); ``retry_after`` when it is a rate."""

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(ChatError):
    """A backing service could not be reached or failed mid-request."""


class StoreUnavailable(Unavailable):
    """PostgreSQL could not be reached or the connection broke mid-request."""


class RegistryUnavailable(Unavailable):
    """DynamoDB (the connection registry) failed after its client's retries."""


class FilesUnavailable(Unavailable):
    """S3 (the attachment bucket) failed after its client's retries."""


class QueueUnavailable(Unavailable):
    """SQS (the fan-out queue) failed after its client's retries."""
