"""The error catalogue (one class per contract code) and the one JSON error handler.

Modelled on Django REST framework's ``exceptions.py``: each class carries its HTTP status, its
contract code and a default message; code raises ``MatchNotFound()`` or ``MatchNotFound("...")``
with more specific details. The OpenAPI document lists, per operation, the codes of the classes
a view declares with ``@raises`` plus those of the handling order.
"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar

from flask import Flask, Response, current_app, request
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, details: Any = None, headers: dict[str, str] | None = None
) -> Response:
    body = {"error": code, "details": details if details is not None else ""}
    response = Response(
        json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json"
    )
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


class APIError(HTTPException):
    """An error with a contract code; renders itself as JSON in any Flask app.

    Subclassing HTTPException means a host app that never registered our handler
    still answers with the JSON body instead of a 500. ``code`` stays werkzeug's HTTP status;
    the contract code is ``error_code``. A host app may raise one without a class of its own:
    ``APIError({"text": "not today"}, status=422, code="host_rejected")``.
    """

    status: ClassVar[int] = 500
    error_code: ClassVar[str] = "error_internal"
    message: ClassVar[str] = ""
    # Response headers the error always carries (the document lists them too).
    header_names: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        details: Any = None,
        headers: dict[str, str] | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        error_code = code or self.error_code
        super().__init__(description=error_code)
        self.code = status or self.status
        self.error_code = error_code  # type: ignore[misc]
        self.details = self.message if details is None else details
        self.extra_headers = headers or {}

    def get_response(self, environ=None, scope=None) -> Response:  # noqa: ARG002
        return error_response(self.code, self.error_code, self.details, self.extra_headers)


def _retry_after() -> dict[str, str]:
    try:
        seconds = current_app.config.get("IDEMPOTENCY_RETRY_AFTER_SECONDS", 1)
    except RuntimeError:  # outside an app context
        seconds = 1
    return {"Retry-After": str(seconds)}


# -- 400 ----------------------------------------------------------------------------------------


class InvalidRequest(APIError):
    """A schema or rule violation; `details` names the fields."""

    status, error_code, message = 400, "error_invalid_request", "the request is invalid"

    @classmethod
    def field(cls, name: str, message: str) -> InvalidRequest:
        return cls({name: [message]})


class InvalidJSON(APIError):
    status, error_code, message = 400, "error_invalid_json", "body is not valid UTF-8 JSON"


class IdempotencyKeyInvalid(APIError):
    status, error_code = 400, "error_idempotency_key_invalid"
    message = "Idempotency-Key must be one header of 1-255 visible ASCII characters, no comma"


class WebhookURLNotAllowed(APIError):
    """Not http(s), or its host resolves to a loopback, private or link-local address."""

    status, error_code = 400, "error_webhook_url_not_allowed"
    message = "the server may not send webhooks to this URL"


class TeamNotInMatch(APIError):
    status, error_code, message = (
        400,
        "error_team_not_in_match",
        "the team does not play this match",
    )


# -- 401 / 403 ----------------------------------------------------------------------------------


class ApiKeyRequired(APIError):
    status, error_code = 401, "error_api_key_required"
    message = "send Authorization: Bearer <api key>"


class ApiKeyInvalid(APIError):
    status, error_code, message = 401, "error_api_key_invalid", "unknown or revoked API key"


class PermissionDenied(APIError):
    """Wrong kind of key, or a scope missing."""

    status, error_code = 403, "error_api_key_permission_denied"
    message = "this key may not use this endpoint"


class GameScopeMismatch(APIError):
    status, error_code = 403, "error_game_scope_mismatch"
    message = "the match belongs to another game"


class LeagueScopeMismatch(APIError):
    status, error_code = 403, "error_league_scope_mismatch"
    message = "this key operates another league"


class NotMatchParticipant(APIError):
    status, error_code = 403, "error_not_match_participant"
    message = "you are not on either team of this match"


class CaptainRequired(APIError):
    status, error_code = 403, "error_captain_required"
    message = "only the team's captain may do this"


class CannotConfirmOwnScore(APIError):
    status, error_code = 403, "error_cannot_confirm_own_score"
    message = "the other team's captain confirms a submitted score"


# -- 404 / 405 ----------------------------------------------------------------------------------


class NotFound(APIError):
    """No such route (or, for a caller's own report, nothing to show)."""

    status, error_code, message = 404, "error_not_found", "no such resource"


class MatchNotFound(APIError):
    status, error_code, message = 404, "error_match_not_found", "no such match"


class TeamNotFound(APIError):
    status, error_code, message = 404, "error_team_not_found", "no such team"


class GameNotFound(APIError):
    status, error_code, message = 404, "error_game_not_found", "no such game"


class LeagueNotFound(APIError):
    status, error_code, message = 404, "error_league_not_found", "no such league"


class SeasonNotFound(APIError):
    status, error_code, message = 404, "error_season_not_found", "no such season"


class MessageNotFound(APIError):
    status, error_code, message = 404, "error_message_not_found", "no such message"


class TicketNotFound(APIError):
    status, error_code, message = 404, "error_ticket_not_found", "no such ticket"


class ScoreNotFound(APIError):
    status, error_code, message = 404, "error_score_not_found", "no pending score for this map"


class WebhookNotFound(APIError):
    status, error_code, message = 404, "error_webhook_not_found", "no such webhook"


class MethodNotAllowed(APIError):
    status, error_code, message = 405, "error_method_not_allowed", "method not allowed"
    header_names = ("Allow",)


# -- 409 ----------------------------------------------------------------------------------------


class MatchNotInValidState(APIError):
    status, error_code = 409, "error_match_not_in_valid_state"
    message = "the match's state does not allow this"


class SeasonNotInValidState(APIError):
    status, error_code = 409, "error_season_not_in_valid_state"
    message = "the season's state does not allow this"


class TicketClosed(APIError):
    status, error_code, message = 409, "error_ticket_closed", "the ticket is closed"


class ScoreAlreadySubmittedByGame(APIError):
    status, error_code = 409, "error_score_already_submitted_by_game"
    message = "the map already has a confirmed score"


class WebhookLimitReached(APIError):
    status, error_code = 409, "error_webhook_limit_reached"
    message = "this key has as many webhooks as it may"


class IdempotencyKeyConflict(APIError):
    status, error_code = 409, "error_idempotency_key_conflict"
    message = "this Idempotency-Key was used with a different request body"


class IdempotencyKeyInUse(APIError):
    """A keyed duplicate waited too long for the first request: retry after ``Retry-After``."""

    status, error_code = 409, "error_idempotency_key_in_use"
    message = "a request with this key is still being processed; retry later"
    header_names = ("Retry-After",)

    def __init__(self, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(details, {**_retry_after(), **(headers or {})})


# -- 429 ----------------------------------------------------------------------------------------


class IpRateLimited(APIError):
    """Too many requests from one client address: refused before anything ran."""

    status, error_code = 429, "error_ip_rate_limited"
    message = "too many requests from this address, retry later"
    header_names = ("Retry-After",)

    def __init__(
        self, details: Any = None, headers: dict[str, str] | None = None, *, retry_after: int = 1
    ) -> None:
        super().__init__(details, {"Retry-After": str(retry_after), **(headers or {})})


class ApiRateLimited(APIError):
    """Too many requests with one API key: refused before anything ran."""

    status, error_code = 429, "error_api_rate_limited"
    message = "too many requests with this API key, retry later"
    header_names = ("Retry-After",)

    def __init__(
        self, details: Any = None, headers: dict[str, str] | None = None, *, retry_after: int = 1
    ) -> None:
        super().__init__(details, {"Retry-After": str(retry_after), **(headers or {})})


# -- 413 / 415 / 5xx ----------------------------------------------------------------------------


class PayloadTooLarge(APIError):
    status, error_code, message = 413, "error_payload_too_large", "the body is too large"


class UnsupportedMediaType(APIError):
    status, error_code = 415, "error_unsupported_media_type"
    message = "send the body as application/json"


class InternalError(APIError):
    status, error_code, message = 500, "error_internal", ""


class ServiceUnavailable(APIError):
    """The database is unreachable or its write lock was not obtained in time."""

    status, error_code = 503, "error_service_unavailable"
    message = "database unavailable, retry later"
    header_names = ("Retry-After",)

    def __init__(self, details: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(details, {"Retry-After": "1", **(headers or {})})


def catalogue() -> list[type[APIError]]:
    """Every contract error class, for the document and the tests."""
    found, pending = [], list(APIError.__subclasses__())
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__ == __name__]


# Werkzeug's own exceptions (routing, size limits) answered with the contract's classes.
_BY_STATUS: dict[int, type[APIError]] = {
    400: InvalidRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def _under_api(prefix: str) -> bool:
    path = request.path
    return path == prefix or path.startswith(prefix + "/")


def register_error_handlers(app: Flask, prefix: str) -> None:
    """JSON errors for every status under ``prefix``; the host app's own pages are left alone."""

    def handle_http(error: HTTPException):
        if isinstance(error, APIError):
            return error.get_response()
        if not _under_api(prefix):
            return error
        status = error.code or 500
        if status >= 500:
            return InternalError().get_response()
        response = _BY_STATUS.get(status, InvalidRequest)(error.description).get_response()
        response.status_code = status
        if status == 405 and error.valid_methods:  # type: ignore[attr-defined]
            response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return response

    def handle_unexpected(error: InternalServerError):
        if not _under_api(prefix):
            return error
        original = error.original_exception
        if isinstance(original, DBAPIError) and is_unavailable_error(original):
            log.warning("database unavailable: %s", type(original.orig).__name__)
            return ServiceUnavailable().get_response()
        # Logged with its traceback for operators; the client only ever sees the code.
        log.error("unhandled error on %s %s", request.method, request.path, exc_info=original)
        return InternalError().get_response()

    def handle_data_error(error: DataError):
        # The database refused a value from the request (a NUL or an out-of-range number in a
        # path or field no schema bounded): bad input, so a 400, never a 500. Registered on the
        # exception itself so it also applies when exceptions propagate (TESTING).
        if not _under_api(prefix):
            raise error
        log.warning("database refused a request value: %s", type(error.orig).__name__)
        return InvalidRequest("a value in the request is invalid").get_response()

    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(DataError, handle_data_error)


def is_unavailable_error(error: DBAPIError) -> bool:
    """True when the database cannot be used: lost connections, SQLite's lock timeout, a file
    that is missing or not (or no longer) a database. The request fails closed with a 503."""
    if error.connection_invalidated:
        return True
    message = str(error.orig).lower()
    return any(
        marker in message
        for marker in (
            "database is locked",
            "connection refused",
            "could not connect",
            "server closed the connection",
            "connection failed",
            "terminating connection",
            "unable to open database",
            "file is not a database",
            "database disk image is malformed",
        )
    )
