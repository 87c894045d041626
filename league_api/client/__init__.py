"""``league_api.client``: a Python client of the league API on httpx (``pip install
"league_api[client]"``) that sends an Idempotency-Key on every keyed write, keeps it across
retries and retries by one table (``retry.TABLE``, shown in README.md).

    with LeagueClient("https://league.example.com", api_key) as client:
        answer = client.tickets.create_ticket(subject="Lag", description="...", category="other")
        answer["ticketId"], answer.status, answer.replayed, answer.idempotency_key

Methods are grouped by area (the OpenAPI document's tags): path parameters are positional
arguments, body fields (and query parameters) keyword arguments named as in the contract.
"""

from __future__ import annotations

import inspect
import logging
import random as random_module
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx

from league_api.client import retry
from league_api.client.errors import (
    APIConnectionError,
    APIError,
    AuthenticationError,
    AuthError,
    BadRequestError,
    ConflictError,
    IdempotencyConflictError,
    IdempotencyKeyInUseError,
    LeagueError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
    error_class,
)
from league_api.client.operations import OPERATIONS, Operation, check_for, find
from league_api.client.retry import Action, Failure, Kind

API_PREFIX = "/api/v1"
# One INFO record per retry, with ``failure``, ``attempt`` and ``delay`` as record attributes.
log = logging.getLogger("league_api.client")
OMIT: Any = type("Omit", (), {"__repr__": lambda self: "OMIT"})()  # "leave this field out"

__all__ = [
    "LeagueClient",
    "Answer",
    "OMIT",
    "LeagueError",
    "APIError",
    "BadRequestError",
    "ValidationError",
    "AuthError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "ConflictError",
    "IdempotencyConflictError",
    "IdempotencyKeyInUseError",
    "RateLimitedError",
    "ServerError",
    "ServiceUnavailableError",
    "APIConnectionError",
    "OutcomeUnknownError",
]


class Answer(dict):
    """A decoded JSON answer (a dict) that also tells how it came.

    ``status``: the HTTP status; ``replayed``: True when the server replayed a stored answer
    (``Idempotent-Replayed: true``: an earlier attempt, or an earlier call with this key, ran it);
    ``idempotency_key``: the key sent, or None; ``attempts``: requests sent; ``response``: the
    httpx.Response (raw bytes, headers such as ``Location``).
    """

    def __init__(
        self,
        body: dict[str, Any],
        response: httpx.Response,
        idempotency_key: str | None,
        attempts: int,
    ) -> None:
        super().__init__(body)
        self.response = response
        self.status = response.status_code
        self.replayed = response.headers.get("Idempotent-Replayed") == "true"
        self.idempotency_key = idempotency_key
        self.attempts = attempts

    @property
    def location(self) -> str | None:
        return self.response.headers.get("Location")


class LeagueClient:
    """A client of one league API server, acting as one API key. Thread-safe; a context manager.

    ``max_retries``: retries per call after the first attempt; ``timeout``: seconds per attempt;
    ``deadline``: seconds per call, all attempts and waits included; ``backoff_base`` and
    ``backoff_cap``: exponential backoff with full jitter. ``transport``, ``sleep``, ``random``
    (a ``random.Random``) and ``clock`` may be replaced, e.g. in tests.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        max_retries: int = 4,
        timeout: float = 10.0,
        deadline: float = 60.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        random: random_module.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/").removesuffix(API_PREFIX)
        self.max_retries = max_retries
        self.timeout = timeout
        self.deadline = deadline
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sleep = sleep
        self._random = random or random_module.Random()
        self._clock = clock
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
            transport=transport,
        )
        for area in AREAS:
            setattr(self, area, AREAS[area](self))

    def __enter__(self) -> LeagueClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- generic calls -------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        """GET ``path`` (relative to /api/v1)."""
        return self.request("GET", path, params=params)

    def post(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Answer:
        """POST ``path``; a keyed endpoint gets a key (``idempotency_key`` or a new one)."""
        return self.request("POST", path, json=json, idempotency_key=idempotency_key)

    def patch(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Answer:
        """PATCH ``path``; keyed like ``post``."""
        return self.request("PATCH", path, json=json, idempotency_key=idempotency_key)

    def delete(self, path: str, json: Any = None, *, idempotency_key: str | None = None) -> Answer:
        """DELETE ``path``; its kind comes from the table like ``post``'s."""
        return self.request("DELETE", path, json=json, idempotency_key=idempotency_key)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> Answer:
        """Any call; its kind (for the retry table) comes from the operation it matches.

        An unknown write with a caller's ``idempotency_key`` counts as keyed, without one as
        unkeyed; an unknown GET as a read.
        """
        found = find(method, path)
        if found is not None:
            kind = found[0].kind
        else:
            kind = Kind.READ if method.upper() == "GET" else Kind.UNKEYED
            if idempotency_key is not None and kind is Kind.UNKEYED:
                kind = Kind.KEYED
        return self._call(kind, method.upper(), path, json, params, idempotency_key)

    # -- the retry loop ------------------------------------------------------------------------

    def _call(
        self,
        kind: Kind,
        method: str,
        path: str,
        json: Any,
        params: dict[str, Any] | None,
        key: str | None,
    ) -> Answer:
        headers = {}
        if kind is Kind.KEYED:
            # One key per call, generated here once: every retry below sends the same one.
            key = key if key is not None else str(uuid.uuid4())
            headers["Idempotency-Key"] = key
        else:
            key = None
        url = API_PREFIX + path
        started = self._clock()
        attempt = 0
        earlier_may_have_run = False
        while True:
            attempt += 1
            remaining = self.deadline - (self._clock() - started)
            response: httpx.Response | None = None
            cause: BaseException | None = None
            try:
                response = self._http.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=headers,
                    timeout=max(0.001, min(self.timeout, remaining)),
                )
            except httpx.TransportError as error:
                failure = retry.classify_exception(error)
                if failure is None:
                    raise
                cause = error
            else:
                failure = retry.classify_response(response)
                if failure is None:
                    return _answer(response, key, attempt)
            action = retry.TABLE[failure][kind]
            if action is Action.RETRY and attempt <= self.max_retries:
                told = retry.retry_after(response)
                delay = (
                    told
                    if told is not None
                    else retry.backoff(
                        attempt, self.backoff_base, self.backoff_cap, self._random.uniform
                    )
                )
                if self._clock() - started + delay <= self.deadline:
                    log.info(
                        "%s %s: %s on attempt %d, retrying in %.2f s",
                        method,
                        path,
                        failure.value,
                        attempt,
                        delay,
                        extra={"failure": failure.value, "attempt": attempt, "delay": delay},
                    )
                    self._sleep(delay)
                    earlier_may_have_run |= failure in retry.MAY_HAVE_RUN
                    continue
            error = self._error(kind, failure, method, path, response, cause, key, attempt)
            if earlier_may_have_run and kind is Kind.RETRY_SAFE and response is not None:
                # E.g. a confirm that landed, whose retry finds no pending score left (404).
                check = _check(method, path)
                look = f"GET {API_PREFIX}{check[1]}" if check else "the resource"
                error.args = (
                    f"{error} (an earlier attempt got no answer and may have run: check {look})",
                )
            raise error

    def _error(
        self,
        kind: Kind,
        failure: Failure,
        method: str,
        path: str,
        response: httpx.Response | None,
        cause: BaseException | None,
        key: str | None,
        attempts: int,
    ) -> LeagueError:
        what = f"{method} {API_PREFIX}{path}"
        context: dict[str, Any] = {"attempts": attempts, "idempotency_key": key}
        if response is not None:
            context.update(response=response, status=response.status_code)
            context["retry_after"] = retry.retry_after(response)
        reason = str(cause) if cause is not None else f"HTTP {response.status_code}"
        may_have_run = failure in retry.MAY_HAVE_RUN
        if may_have_run and kind is not Kind.READ:
            check = _check(method, path)
            if kind is Kind.KEYED:
                message = (
                    f"{what}: no answer after {attempts} attempt(s) ({reason}). Call it again with"
                    f" idempotency_key={key!r}: if it ran, the server replays its answer; if not,"
                    " it runs once."
                )
            elif kind is Kind.RETRY_SAFE:
                message = (
                    f"{what}: no answer after {attempts} attempt(s) ({reason}). It may have run;"
                    " repeating it is safe (idempotent by contract)."
                )
            else:
                look = f"GET {API_PREFIX}{check[1]}" if check else "the resource"
                found = find(method, path)
                hint = found[0].unknown_hint if found else ""
                advice = (
                    hint.format(look=look)
                    if hint
                    else f"Check {look} before repeating it (a repeat of a state-guarded write"
                    " that ran is refused with 409)."
                )
                message = (
                    f"{what} may or may not have run ({reason}): it has no Idempotency-Key, so it"
                    f" was not repeated. {advice}"
                )
            return OutcomeUnknownError(
                message, retry_safe=kind is not Kind.UNKEYED, check=check, **context
            )
        if response is None:
            return APIConnectionError(
                f"{what}: no answer after {attempts} attempt(s) ({reason})", **context
            )
        envelope = retry.error_body(response)
        code = envelope["error"] if envelope else None
        details = envelope.get("details") if envelope else response.text[:500]
        message = f"{what}: {response.status_code} {code or ''} {details or ''}".rstrip()
        return error_class(response.status_code, code)(
            message, code=code, details=details, **context
        )


def _check(method: str, path: str) -> tuple[str, str] | None:
    """The GET (method, concrete path) that shows whether ``method path`` ran."""
    found = find(method, path)
    if found is None:
        return None
    operation, values = found
    read = check_for(operation)
    if read is None:
        return None
    arguments = dict(zip(operation.path_parameters, values, strict=True))
    return "GET", read.path.format(**arguments)


def _answer(response: httpx.Response, key: str | None, attempts: int) -> Answer:
    try:
        body = response.json() if response.content else {}
    except ValueError:
        body = {}
    return Answer(body if isinstance(body, dict) else {"data": body}, response, key, attempts)


# -- one method per operation, grouped by area ---------------------------------------------------


class Area:
    """The operations of one area (an OpenAPI tag), bound to a client."""

    def __init__(self, client: LeagueClient) -> None:
        self._client = client


def _method(operation: Operation) -> Callable[..., Answer]:
    P = inspect.Parameter
    parameters = [P("self", P.POSITIONAL_ONLY)]
    parameters += [P(name, P.POSITIONAL_OR_KEYWORD) for name in operation.path_parameters]
    parameters += [P(name, P.KEYWORD_ONLY) for name in operation.required]
    parameters += [P(name, P.KEYWORD_ONLY, default=OMIT) for name in operation.optional]
    parameters += [P(name, P.KEYWORD_ONLY, default=OMIT) for name in operation.query]
    if operation.kind is Kind.KEYED:
        parameters.append(P("idempotency_key", P.KEYWORD_ONLY, default=None))
    signature = inspect.Signature(parameters, return_annotation=Answer)

    def method(self: Area, *args: Any, **kwargs: Any) -> Answer:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        values = bound.arguments
        path = operation.path.format(
            **{name: quote(str(values[name]), safe="") for name in operation.path_parameters}
        )
        fields = {n: values[n] for n in operation.fields if values[n] is not OMIT}
        query = {n: values[n] for n in operation.query if values[n] is not OMIT}
        return self._client._call(
            operation.kind,
            operation.method,
            path,
            fields if operation.method != "GET" else None,
            query or None,
            values.get("idempotency_key"),
        )

    method.__name__ = method.__qualname__ = operation.name
    method.__signature__ = signature  # type: ignore[attr-defined]
    method.__doc__ = f"{operation.method} {API_PREFIX}{operation.path} ({operation.kind})."
    return method


def _areas() -> dict[str, type[Area]]:
    members: dict[str, dict[str, Any]] = {}
    for operation in OPERATIONS:
        members.setdefault(operation.area, {})[operation.name] = _method(operation)
    return {
        area: type(f"{area.title()}Area", (Area,), {"__doc__": f"The {area} operations.", **ms})
        for area, ms in members.items()
    }


AREAS = _areas()
