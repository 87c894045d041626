"""The client's retry table, row by row, and its backoff, deadline, keys and errors.

Each (kind of failure, kind of operation) cell of ``retry.TABLE`` is driven through an
``httpx.MockTransport`` whose first answer is that failure and whose second is a success; a fake
clock and sleep make waits instant and exact. The real-socket tests at the end check the same
decisions against a small local HTTP stub (429 with Retry-After, a reset, a closed port).
"""

from __future__ import annotations

import email.utils
import socket
import struct
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from league_api.client import (
    APIConnectionError,
    AuthenticationError,
    AuthError,
    BadRequestError,
    ConflictError,
    IdempotencyConflictError,
    IdempotencyKeyInUseError,
    LeagueClient,
    LeagueError,
    NotFoundError,
    OutcomeUnknownError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    ValidationError,
)
from league_api.client.retry import TABLE, Action, Failure, Kind, markdown_table

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://league.test"


class FakeTime:
    """A clock that only the client's sleeps move; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Upper:
    """Randomness that always draws the top of the range: full-jitter delays become exact."""

    def uniform(self, low: float, high: float) -> float:
        return high


def envelope(status: int, code: str, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after else {}
    return httpx.Response(status, json={"error": code, "details": ""}, headers=headers)


def raising(error: type[httpx.TransportError], message: str):
    def fail(request: httpx.Request) -> httpx.Response:
        raise error(message, request=request)

    return fail


# One way to produce each failure, and the Retry-After it carries (None: backoff applies).
FAILURES: dict[Failure, tuple[Callable[[httpx.Request], httpx.Response], float | None]] = {
    Failure.NOT_SENT: (raising(httpx.ConnectError, "[Errno 111] Connection refused"), None),
    Failure.LOST: (raising(httpx.RemoteProtocolError, "Server disconnected"), None),
    Failure.TIMEOUT: (raising(httpx.ReadTimeout, "timed out"), None),
    Failure.RATE_LIMITED: (lambda r: envelope(429, "error_api_rate_limited", "3"), 3.0),
    Failure.UNAVAILABLE: (lambda r: envelope(503, "error_service_unavailable", "2"), 2.0),
    Failure.GATEWAY: (lambda r: httpx.Response(502, text="<h1>Bad Gateway</h1>"), None),
    Failure.IN_USE: (lambda r: envelope(409, "error_idempotency_key_in_use", "1"), 1.0),
    Failure.SERVER_ERROR: (lambda r: envelope(500, "error_internal"), None),
    Failure.REFUSED: (lambda r: envelope(404, "error_ticket_not_found"), None),
}
# The error a RAISE cell raises.
RAISED = {
    Failure.IN_USE: IdempotencyKeyInUseError,
    Failure.SERVER_ERROR: ServerError,
    Failure.REFUSED: NotFoundError,
}
# One operation of each kind: its call, method and path.
CALLS: dict[Kind, tuple[Callable[[LeagueClient], object], str, str]] = {
    Kind.READ: (lambda c: c.tickets.get_ticket("t1"), "GET", "/api/v1/tickets/t1"),
    Kind.KEYED: (
        lambda c: c.tickets.create_ticket(subject="s", description="d", category="other"),
        "POST",
        "/api/v1/tickets",
    ),
    Kind.RETRY_SAFE: (
        lambda c: c.scores.submit_score(
            "m1", mapIndex=0, mapId="dust", creatorTeamScore=16, opponentTeamScore=9
        ),
        "POST",
        "/api/v1/matches/m1/scores",
    ),
    Kind.UNKEYED: (lambda c: c.tickets.close_ticket("t1"), "POST", "/api/v1/tickets/t1/close"),
}
CELLS = [(failure, kind, TABLE[failure][kind]) for failure in TABLE for kind in Kind]


class Script:
    """A MockTransport handler answering from a list of steps (the last one repeats)."""

    def __init__(self, *steps: Callable[[httpx.Request], httpx.Response]) -> None:
        self.steps = list(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        return step(request)

    @property
    def keys(self) -> list[str | None]:
        return [request.headers.get("Idempotency-Key") for request in self.requests]


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"success": True})


def make_client(script: Script, time_: FakeTime, **options) -> LeagueClient:
    options.setdefault("random", Upper())
    return LeagueClient(
        BASE,
        "lk_test",
        transport=httpx.MockTransport(script),
        sleep=time_.sleep,
        clock=time_.clock,
        **options,
    )


def test_every_cell_of_the_table_is_decided():
    assert set(TABLE) == set(Failure)
    assert all(set(row) == set(Kind) for row in TABLE.values())
    assert set(FAILURES) == set(Failure)


def test_readme_shows_the_table_the_client_uses():
    assert markdown_table() in (ROOT / "docs" / "API.md").read_text()


@pytest.mark.parametrize(
    "failure, kind, action", CELLS, ids=[f"{f.value}-{k.value}" for f, k, _ in CELLS]
)
def test_table_row(failure, kind, action):
    produce, told = FAILURES[failure]
    script = Script(produce, ok)
    time_ = FakeTime()
    call, method, path = CALLS[kind]
    with make_client(script, time_, backoff_base=0.5) as client:
        if action is Action.RETRY:
            answer = call(client)
            assert (answer.status, answer.attempts, dict(answer)) == (200, 2, {"success": True})
            # Retry-After is waited exactly; otherwise the first backoff (top of its jitter).
            assert time_.sleeps == [told if told is not None else 0.5]
        else:
            expected = OutcomeUnknownError if action is Action.UNKNOWN else RAISED[failure]
            with pytest.raises(expected) as raised:
                call(client)
            assert time_.sleeps == []
            assert raised.value.attempts == 1
    assert [(r.method, r.url.path) for r in script.requests] == [(method, path)] * len(
        script.requests
    )
    keys = script.keys
    if kind is Kind.KEYED:
        # One key per call, the same on every attempt.
        assert keys[0] and len(set(keys)) == 1
        if action is Action.RETRY:
            assert answer.idempotency_key == keys[0]
    else:
        assert set(keys) == {None}
    if action is Action.UNKNOWN:
        error = raised.value
        assert not error.retry_safe
        assert error.check == ("GET", "/tickets/t1")
        assert "GET /api/v1/tickets/t1" in str(error) and "may or may not have run" in str(error)
    if action is Action.RAISE:
        error = raised.value
        assert error.response is not None and error.status == error.response.status_code
        assert error.code == error.response.json()["error"]


def test_each_retry_is_logged_with_its_failure(caplog):
    script = Script(lambda r: envelope(429, "error_api_rate_limited", "2"), ok)
    with caplog.at_level("INFO", logger="league_api.client"):
        with make_client(script, FakeTime()) as client:
            client.tickets.list_tickets()
    [record] = caplog.records
    assert (record.failure, record.attempt, record.delay) == ("429", 1, 2.0)
    assert "lk_test" not in record.getMessage()


def test_backoff_is_exponential_up_to_the_cap_and_bounded_by_max_retries():
    script = Script(raising(httpx.ConnectError, "refused"))
    time_ = FakeTime()
    client = make_client(script, time_, max_retries=6, backoff_base=0.5, backoff_cap=4.0)
    with client, pytest.raises(APIConnectionError) as raised:
        client.tickets.get_ticket("t1")
    assert time_.sleeps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert raised.value.attempts == len(script.requests) == 7
    assert not isinstance(raised.value, OutcomeUnknownError), "nothing was ever sent"


def test_jitter_is_full_uniform_below_each_bound():
    import random

    script = Script(raising(httpx.ConnectError, "refused"))
    time_ = FakeTime()
    client = make_client(
        script,
        time_,
        max_retries=8,
        backoff_base=1.0,
        backoff_cap=64.0,
        deadline=1e4,
        random=random.Random(7),
    )
    with client, pytest.raises(APIConnectionError):
        client.get("/tickets")
    bounds = [2.0**n for n in range(8)]
    assert all(0 <= slept < bound for slept, bound in zip(time_.sleeps, bounds, strict=True))
    assert len(set(time_.sleeps)) == 8 and any(
        s < b / 2 for s, b in zip(time_.sleeps, bounds, strict=True)
    )


def test_the_deadline_bounds_every_call():
    script = Script(raising(httpx.ReadTimeout, "timed out"))
    time_ = FakeTime()
    client = make_client(script, time_, max_retries=10, backoff_base=1.0, deadline=5.0)
    with client, pytest.raises(OutcomeUnknownError) as raised:
        client.tickets.create_ticket(subject="s", description="d", category="other")
    # Waits of 1 and 2 s fit in 5 s; the next (4 s) would not.
    assert time_.sleeps == [1.0, 2.0]
    assert raised.value.attempts == 3


def test_a_retry_after_past_the_deadline_is_raised_at_once():
    script = Script(lambda r: envelope(429, "error_api_rate_limited", "120"), ok)
    time_ = FakeTime()
    with make_client(script, time_, deadline=60.0) as client:
        with pytest.raises(RateLimitedError) as raised:
            client.tickets.list_tickets()
    assert time_.sleeps == [] and len(script.requests) == 1
    assert (raised.value.status, raised.value.retry_after) == (429, 120.0)
    assert raised.value.code == "error_api_rate_limited"


def test_retry_after_as_an_http_date_is_honoured():
    script = Script(
        lambda r: httpx.Response(
            503,
            json={"error": "error_service_unavailable", "details": ""},
            # An HTTP date about 30 s ahead (whole seconds: the date format has no fractions).
            headers={"Retry-After": email.utils.formatdate(_now() + 30, usegmt=True)},
        ),
        ok,
    )
    time_ = FakeTime()
    with make_client(script, time_) as client:
        client.tickets.list_tickets()
    assert len(time_.sleeps) == 1 and 28 <= time_.sleeps[0] <= 31


def _now() -> float:
    import time

    return time.time()


def test_a_keyed_write_that_never_got_an_answer_says_to_call_again_with_its_key():
    script = Script(raising(httpx.ReadError, "connection reset by peer"))
    time_ = FakeTime()
    client = make_client(script, time_, max_retries=2)
    with client, pytest.raises(OutcomeUnknownError) as raised:
        client.game.forfeit_match("m1", forfeitingTeamId="t1")
    error = raised.value
    assert error.retry_safe and error.attempts == 3
    assert script.keys == [error.idempotency_key] * 3
    assert f"idempotency_key={error.idempotency_key!r}" in str(error)


def test_a_retry_safe_write_that_never_got_an_answer_says_it_may_be_repeated():
    script = Script(raising(httpx.ReadTimeout, "timed out"))
    client = make_client(script, FakeTime(), max_retries=1)
    with client, pytest.raises(OutcomeUnknownError) as raised:
        client.scores.confirm_score("m1", mapIndex=0)
    assert raised.value.retry_safe and raised.value.idempotency_key is None
    assert "repeating it is safe" in str(raised.value)


def test_a_retry_safe_write_refused_after_a_lost_attempt_says_it_may_have_run():
    script = Script(
        raising(httpx.ReadTimeout, "timed out"), lambda r: envelope(404, "error_score_not_found")
    )
    with make_client(script, FakeTime()) as client, pytest.raises(NotFoundError) as raised:
        client.scores.confirm_score("m1", mapIndex=0)
    assert raised.value.attempts == 2
    assert "may have run: check GET /api/v1/matches/m1/scores" in str(raised.value)


@pytest.mark.parametrize(
    "call, check, advice",
    [
        (
            lambda c: c.webhooks.create_webhook(url="https://hooks.example/in", events=["x"]),
            ("GET", "/webhooks"),
            "list GET /api/v1/webhooks and delete",
        ),
        (
            lambda c: c.webhooks.rotate_secret("w1"),
            ("GET", "/webhooks/w1"),
            "Check GET /api/v1/webhooks/w1: if previousSecretExpiresAt",
        ),
    ],
    ids=["create", "rotate"],
)
def test_a_lost_webhook_secret_answer_is_not_repeated_and_says_what_to_clean_up(
    call, check, advice
):
    """Create and rotate answer a secret once and have no key: a repeat would make another."""
    script = Script(raising(httpx.ReadTimeout, "timed out"), ok)
    with make_client(script, FakeTime()) as client, pytest.raises(OutcomeUnknownError) as raised:
        call(client)
    error = raised.value
    assert len(script.requests) == 1 and script.keys == [None]
    assert (error.retry_safe, error.check) == (False, check)
    assert advice in str(error) and "refused with 409" not in str(error)


def test_a_lost_webhook_delete_is_retried_and_a_404_then_says_it_may_have_run():
    script = Script(raising(httpx.ReadTimeout, "timed out"), ok)
    with make_client(script, FakeTime()) as client:
        assert client.webhooks.delete_webhook("w1").attempts == 2
        script.requests.clear()
        script.steps = [
            raising(httpx.RemoteProtocolError, "Server disconnected"),
            lambda r: envelope(404, "error_webhook_not_found"),
        ]
        with pytest.raises(NotFoundError) as raised:
            client.webhooks.delete_webhook("w1")
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("DELETE", "/api/v1/webhooks/w1")
    ] * 2
    assert script.keys == [None, None]
    assert "may have run: check GET /api/v1/webhooks/w1" in str(raised.value)


def test_the_callers_key_is_sent_on_every_attempt_and_each_call_gets_its_own():
    script = Script(raising(httpx.RemoteProtocolError, "disconnected"), ok)
    with make_client(script, FakeTime()) as client:
        mine = client.chat.send_message("m1", content="gg", idempotency_key="order-42")
        script.requests.clear()
        script.steps = [ok]
        first = client.chat.send_message("m1", content="gg")
        second = client.chat.send_message("m1", content="gg")
    assert mine.idempotency_key == "order-42"
    assert first.idempotency_key != second.idempotency_key
    assert script.keys == [first.idempotency_key, second.idempotency_key]


@pytest.mark.parametrize(
    "method, path, keyed",
    [
        ("post", "/tickets", True),
        ("post", "/matches/m1/lobby-code", True),
        ("post", "/tickets/t1/close", False),
        ("patch", "/game/matches/m1/status", False),
        ("delete", "/webhooks/w1", False),
    ],
)
def test_generic_calls_find_their_operation_and_its_key(method, path, keyed):
    script = Script(ok)
    with make_client(script, FakeTime()) as client:
        answer = getattr(client, method)(path, {"x": 1})
    assert (answer.idempotency_key is not None) is keyed
    assert script.keys == [answer.idempotency_key]
    assert script.requests[0].url.path == "/api/v1" + path


def test_a_generic_write_outside_the_document_is_keyed_only_with_the_callers_key():
    script = Script(raising(httpx.ReadTimeout, "timed out"), ok)
    with make_client(script, FakeTime()) as client:
        with pytest.raises(OutcomeUnknownError):
            client.post("/not/in/the/document", {})
        script.requests.clear()
        answer = client.post("/not/in/the/document", {}, idempotency_key="k1")
    assert answer.attempts == 2 and script.keys == ["k1", "k1"]


def test_the_answer_tells_status_replay_location_and_key():
    def replay(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            201,
            json={"success": True, "ticketId": "t9"},
            headers={"Idempotent-Replayed": "true", "Location": "/api/v1/tickets/t9"},
        )

    with make_client(Script(replay), FakeTime()) as client:
        answer = client.tickets.create_ticket(
            subject="s", description="d", category="other", idempotency_key="k"
        )
    assert answer == {"success": True, "ticketId": "t9"}
    assert (answer.status, answer.replayed, answer.idempotency_key) == (201, True, "k")
    assert answer.location == "/api/v1/tickets/t9"


@pytest.mark.parametrize(
    "status, code, family",
    [
        (400, "error_invalid_request", ValidationError),
        (400, "error_invalid_json", BadRequestError),
        (401, "error_api_key_invalid", AuthenticationError),
        (403, "error_api_key_permission_denied", PermissionDeniedError),
        (404, "error_match_not_found", NotFoundError),
        (405, "error_method_not_allowed", BadRequestError),
        (409, "error_match_not_in_valid_state", ConflictError),
        (409, "error_idempotency_key_conflict", IdempotencyConflictError),
        (413, "error_payload_too_large", BadRequestError),
        (415, "error_unsupported_media_type", BadRequestError),
        (500, "error_internal", ServerError),
    ],
)
def test_each_error_family_has_its_class_with_status_code_and_details(status, code, family):
    details = {"teamId": ["Missing data."]} if code == "error_invalid_request" else "why"

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": code, "details": details})

    with make_client(Script(answer), FakeTime()) as client:
        with pytest.raises(family) as raised:
            client.matches.ready("m1")
    error = raised.value
    assert type(error) is family and isinstance(error, LeagueError)
    assert (error.status, error.code, error.details) == (status, code, details)
    assert error.response.status_code == status
    assert issubclass(AuthenticationError, AuthError) and issubclass(
        PermissionDeniedError, AuthError
    )


def test_an_exhausted_503_is_a_service_unavailable_error():
    script = Script(lambda r: envelope(503, "error_service_unavailable", "1"))
    time_ = FakeTime()
    with make_client(script, time_, max_retries=2) as client:
        with pytest.raises(ServiceUnavailableError) as raised:
            client.tickets.close_ticket("t1")
    assert time_.sleeps == [1.0, 1.0] and raised.value.attempts == 3


def test_a_plain_text_gateway_error_keeps_its_text_as_details():
    script = Script(lambda r: httpx.Response(504, text="upstream timed out"))
    with make_client(script, FakeTime(), max_retries=0) as client:
        with pytest.raises(OutcomeUnknownError) as raised:
            client.leagues.activate_season("demo-league", "s1")
    assert raised.value.status == 504 and raised.value.check == (
        "GET",
        "/leagues/demo-league/seasons/s1",
    )


# -- the same decisions over real sockets ---------------------------------------------------------


class Stub:
    """A local HTTP server answering from a script of ``(status, headers, body)`` or "reset"."""

    def __init__(self, steps: list) -> None:
        self.steps = steps
        self.requests: list[dict[str, str]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stub.requests.append(dict(self.headers))
                step = stub.steps[min(len(stub.requests), len(stub.steps)) - 1]
                if step == "reset":
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.close_connection = True
                    self.connection.close()
                    return
                status, headers, body = step
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    stubs: list[Stub] = []

    def start(steps: list) -> Stub:
        stubs.append(Stub(steps))
        return stubs[-1]

    yield start
    for one in stubs:
        one.close()


RATE_LIMITED = (429, {"Retry-After": "1"}, b'{"error": "error_api_rate_limited", "details": ""}')
CREATED = (201, {}, b'{"success": true, "ticketId": "t1"}')


def test_stub_429_with_retry_after_is_waited_out_with_the_same_key(stub):
    server = stub([RATE_LIMITED, RATE_LIMITED, CREATED])
    time_ = FakeTime()
    with LeagueClient(server.url, "lk", sleep=time_.sleep, clock=time_.clock) as client:
        answer = client.tickets.create_ticket(subject="s", description="d", category="other")
    assert (answer.status, answer["ticketId"], answer.attempts) == (201, "t1", 3)
    assert time_.sleeps == [1.0, 1.0]
    assert [r["Idempotency-Key"] for r in server.requests] == [answer.idempotency_key] * 3


def test_stub_429_on_an_unkeyed_write_is_retried_too(stub):
    server = stub([RATE_LIMITED, (200, {}, b'{"success": true}')])
    time_ = FakeTime()
    with LeagueClient(server.url, "lk", sleep=time_.sleep, clock=time_.clock) as client:
        assert client.tickets.close_ticket("t1").status == 200
    assert time_.sleeps == [1.0] and len(server.requests) == 2


def test_stub_reset_after_the_request_is_retried_keyed_and_unknown_unkeyed(stub):
    server = stub(["reset", CREATED])
    time_ = FakeTime()
    with LeagueClient(server.url, "lk", sleep=time_.sleep, clock=time_.clock) as client:
        answer = client.tickets.create_ticket(subject="s", description="d", category="other")
        assert answer.attempts == 2
        server.requests.clear()
        with pytest.raises(OutcomeUnknownError) as raised:
            client.tickets.close_ticket("t1")
    assert len(server.requests) == 1
    assert "GET /api/v1/tickets/t1" in str(raised.value)


def test_a_closed_port_is_retried_even_for_an_unkeyed_write():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        time_ = FakeTime()
        client = LeagueClient(url, "lk", max_retries=2, sleep=time_.sleep, clock=time_.clock)
        with client, pytest.raises(APIConnectionError) as raised:
            client.tickets.close_ticket("t1")
    assert type(raised.value) is APIConnectionError and raised.value.attempts == 3
    assert len(time_.sleeps) == 2
