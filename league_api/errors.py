"""Typed API errors and the one place that turns any failure under the API prefix into JSON."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Werkzeug's own exceptions (routing, size limits) mapped to the contract's codes.
_HTTP_CODES = {
    400: "error_invalid_request",
    404: "error_not_found",
    405: "error_method_not_allowed",
    413: "error_payload_too_large",
    415: "error_unsupported_media_type",
}


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
    still answers with the JSON body instead of a 500.
    """

    def __init__(
        self,
        status: int,
        code: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(description=code)
        self.code = status
        self.error_code = code
        self.details = details
        self.extra_headers = headers or {}

    def get_response(self, environ=None, scope=None) -> Response:  # noqa: ARG002
        return error_response(self.code, self.error_code, self.details, self.extra_headers)


class ServiceUnavailable(APIError):
    """The database is unreachable or its write lock was not obtained in time."""

    def __init__(self, details: str = "database unavailable, retry later") -> None:
        super().__init__(503, "error_service_unavailable", details, {"Retry-After": "1"})


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
            return error_response(500, "error_internal")
        code = _HTTP_CODES.get(status, "error_invalid_request")
        response = error_response(status, code, error.description)
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
        return error_response(500, "error_internal")

    def handle_data_error(error: DataError):
        # The database refused a value from the request (a NUL or an out-of-range number in a
        # path or field no schema bounded): bad input, so a 400, never a 500. Registered on the
        # exception itself so it also applies when exceptions propagate (TESTING).
        if not _under_api(prefix):
            raise error
        log.warning("database refused a request value: %s", type(error.orig).__name__)
        return error_response(400, "error_invalid_request", "a value in the request is invalid")

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


class IpRateLimited(APIError):
    """Too many requests from one client address: refused before anything ran."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "error_ip_rate_limited",
            "too many requests from this address, retry later",
            {"Retry-After": str(retry_after)},
        )


class ApiRateLimited(APIError):
    """Too many requests with one API key: refused before anything ran."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "error_api_rate_limited",
            "too many requests with this API key, retry later",
            {"Retry-After": str(retry_after)},
        )
