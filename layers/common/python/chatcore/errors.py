"""Domain errors raised by the layer and mapped to protocol errors or HTTP responses by the callers."""


class ChatError(Exception):
    """Base class of the errors the chat domain raises on purpose."""


class StoreUnavailable(ChatError):
    """PostgreSQL could not be reached or the connection broke mid-request."""


class NotFound(ChatError):
    """The addressed user, group or message does not exist."""


class Forbidden(ChatError):
    """The caller is known but may not do this."""


class Conflict(ChatError):
    """The request collides with existing state (for example a taken username)."""


class Unauthorized(ChatError):
    """The caller's credentials are missing, invalid or expired."""


class TooManyAttempts(ChatError):
    """Too many recent failures for this username or address; try again after ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed attempts; try again later")
        self.retry_after = retry_after
