"""The client's exceptions: one class per family, all under ``LeagueError``.

Each carries ``status`` (None when no answer came), ``code`` (the API's ``error``), ``details``,
``response`` (the last httpx.Response, if any), ``attempts``, the ``idempotency_key`` sent (if any)
and ``retry_after`` (seconds, when the server said).
"""

from __future__ import annotations

from typing import Any

import httpx


class LeagueError(Exception):
    """Base of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Any = None,
        response: httpx.Response | None = None,
        attempts: int = 1,
        idempotency_key: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.details = details
        self.response = response
        self.attempts = attempts
        self.idempotency_key = idempotency_key
        self.retry_after = retry_after


class APIError(LeagueError):
    """The API answered with an error status."""


class BadRequestError(APIError):
    """400, 405, 413, 415 and other 4xx without a family of their own: fix the request."""


class ValidationError(BadRequestError):
    """400 ``error_invalid_request``: ``details`` maps each refused field to its messages."""


class AuthError(APIError):
    """401 or 403: the key is missing, unknown, revoked or not allowed to do this."""


class AuthenticationError(AuthError):
    """401 ``error_api_key_required`` / ``error_api_key_invalid``."""


class PermissionDeniedError(AuthError):
    """403: wrong kind of key, missing scope, or a resource outside the key's reach."""


class NotFoundError(APIError):
    """404."""


class ConflictError(APIError):
    """409: a state rule refused the write, or an Idempotency-Key conflict."""


class IdempotencyConflictError(ConflictError):
    """409 ``error_idempotency_key_conflict``: the key was used with another body."""


class IdempotencyKeyInUseError(ConflictError):
    """409 ``error_idempotency_key_in_use`` after every retry: call again with the same key."""


class RateLimitedError(APIError):
    """429 after every retry (or a Retry-After beyond the deadline): nothing ran."""


class ServerError(APIError):
    """5xx."""


class ServiceUnavailableError(ServerError):
    """503 after every retry: nothing ran."""


class APIConnectionError(LeagueError):
    """No answer: the connection failed or timed out on every attempt."""


class OutcomeUnknownError(APIConnectionError):
    """A write may or may not have run; the message says what the caller can check.

    ``retry_safe`` is True when repeating the call cannot apply it twice: a keyed write (call
    again with ``idempotency_key=error.idempotency_key``) or an operation idempotent by contract.
    ``check`` is the (method, path) of the read that shows the resource's state, if there is one.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_safe: bool = False,
        check: tuple[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_safe = retry_safe
        self.check = check


BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}
BY_CODE: dict[str, type[APIError]] = {
    "error_invalid_request": ValidationError,
    "error_idempotency_key_conflict": IdempotencyConflictError,
    "error_idempotency_key_in_use": IdempotencyKeyInUseError,
}


def error_class(status: int, code: str | None) -> type[APIError]:
    if code in BY_CODE:
        return BY_CODE[code]
    if status in BY_STATUS:
        return BY_STATUS[status]
    return ServerError if status >= 500 else BadRequestError
