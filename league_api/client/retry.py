"""The client's retry table: what it does for each (kind of operation, kind of failure).

This table is the one place retries are decided; README.md shows it (a test keeps the two equal)
and ``tests/test_client_retry.py`` checks it row by row.
"""

from __future__ import annotations

import email.utils
import json
import time
from enum import StrEnum

import httpx


class Kind(StrEnum):
    """What a repeated request may do on the server."""

    READ = "read"  # GET, and the POST list endpoints: nothing changes
    KEYED = "keyed"  # an Idem endpoint, always sent with an Idempotency-Key
    # Idempotent in effect without a key: the captain score writes (API.md 9.4) and DELETE of a
    # webhook (a repeat changes nothing; it answers 404 if an earlier attempt ran).
    RETRY_SAFE = "retry_safe"
    UNKEYED = "unkeyed"  # any other write: a repeat may run it twice (or answer 409)


class Failure(StrEnum):
    """What went wrong with one attempt."""

    NOT_SENT = "not_sent"
    LOST = "lost"
    TIMEOUT = "timeout"
    RATE_LIMITED = "429"
    UNAVAILABLE = "503_api"
    GATEWAY = "502_503_504"
    IN_USE = "409_in_use"
    SERVER_ERROR = "5xx"
    REFUSED = "4xx"


class Action(StrEnum):
    RETRY = "retry"  # back off (or wait Retry-After) and send again, the same key included
    UNKNOWN = "unknown"  # raise OutcomeUnknownError: it may have run; the caller checks
    RAISE = "raise"  # raise the error the answer maps to


FAILURES: dict[Failure, str] = {
    Failure.NOT_SENT: "no connection made (refused, connect timeout, pool full): nothing was sent",
    Failure.LOST: "connection broken after the request was sent, before a whole answer",
    Failure.TIMEOUT: "no answer within `timeout` after the request was sent",
    Failure.RATE_LIMITED: "429, any body: refused before anything ran",
    Failure.UNAVAILABLE: "503 with the API's JSON error: refused before anything ran",
    Failure.GATEWAY: "502, 504, or a 503 without the API's JSON error (a proxy's answer)",
    Failure.IN_USE: "409 `error_idempotency_key_in_use`: the first request is still running",
    Failure.SERVER_ERROR: "500 and any other 5xx (the server stored and committed nothing)",
    Failure.REFUSED: "any other 4xx",
}

R, U, X = Action.RETRY, Action.UNKNOWN, Action.RAISE
# Columns: read, keyed, retry_safe, unkeyed.
TABLE: dict[Failure, dict[Kind, Action]] = {
    failure: dict(zip(Kind, actions, strict=True))
    for failure, actions in {
        Failure.NOT_SENT: (R, R, R, R),
        Failure.LOST: (R, R, R, U),
        Failure.TIMEOUT: (R, R, R, U),
        Failure.RATE_LIMITED: (R, R, R, R),
        Failure.UNAVAILABLE: (R, R, R, R),
        Failure.GATEWAY: (R, R, R, U),
        Failure.IN_USE: (X, R, X, X),
        Failure.SERVER_ERROR: (X, X, X, X),
        Failure.REFUSED: (X, X, X, X),
    }.items()
}

# Failures after which the request may have run on the server.
MAY_HAVE_RUN = frozenset({Failure.LOST, Failure.TIMEOUT, Failure.GATEWAY})


def markdown_table() -> str:
    """The table as README.md shows it."""
    lines = [
        "| failure | " + " | ".join(f"`{kind}`" for kind in Kind) + " |",
        "|---|" + "---|" * len(Kind),
    ]
    for failure, actions in TABLE.items():
        cells = " | ".join(actions[kind].value for kind in Kind)
        lines.append(f"| `{failure}`: {FAILURES[failure]} | {cells} |")
    return "\n".join(lines)


def classify_exception(error: httpx.TransportError) -> Failure | None:
    """The failure an httpx transport error stands for; None for a usage error (bad URL)."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
        return Failure.NOT_SENT
    if isinstance(error, httpx.TimeoutException):
        return Failure.TIMEOUT
    if isinstance(error, httpx.NetworkError | httpx.RemoteProtocolError | httpx.ProxyError):
        return Failure.LOST
    return None  # UnsupportedProtocol, LocalProtocolError: nothing to retry


def error_body(response: httpx.Response) -> dict | None:
    """The API's JSON error envelope ``{"error": code, "details": ...}``, if the body is one."""
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body
    return None


def classify_response(response: httpx.Response) -> Failure | None:
    """The failure an answer stands for; None for a success."""
    status = response.status_code
    if status < 400:
        return None
    if status == 429:
        return Failure.RATE_LIMITED
    envelope = error_body(response)
    if status == 503 and envelope is not None:
        return Failure.UNAVAILABLE
    if status in (502, 503, 504):
        return Failure.GATEWAY
    if status >= 500:
        return Failure.SERVER_ERROR
    if status == 409 and envelope and envelope["error"] == "error_idempotency_key_in_use":
        return Failure.IN_USE
    return Failure.REFUSED


def retry_after(response: httpx.Response | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), or None."""
    if response is None:
        return None
    value = response.headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int, base: float, cap: float, uniform) -> float:
    """Exponential backoff with full jitter: uniform in [0, min(cap, base * 2**(attempt-1)))."""
    return uniform(0.0, min(cap, base * 2 ** (attempt - 1)))
