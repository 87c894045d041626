"""Shared machinery of the large-scale suites: sizes, the Idem endpoint list, a bounded
threaded HTTP client, worker killing and side-effect counting.

Sizes are small by default (CI); ``LEAGUE_API_LONG=1`` selects the full sizes.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import requests
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text

LONG = os.environ.get("LEAGUE_API_LONG", "") not in ("", "0")
BACKEND = "postgresql" if os.environ.get("LEAGUE_API_TEST_DATABASE_URL") else "sqlite"


def size(ci: int, long: int) -> int:
    """The CI figure, or the long one under ``LEAGUE_API_LONG=1``."""
    return long if LONG else ci


# Hypothesis: modest example counts in CI, more under LEAGUE_API_LONG=1. The app and the
# demo world are built once per test and shared by its examples (assertions use deltas),
# hence the suppressed function-scoped-fixture check.
settings.register_profile(
    "league_api_ci",
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "league_api_long",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PROFILE = settings.get_profile("league_api_long" if LONG else "league_api_ci")


def examples(ci: int, long: int | None = None) -> settings:
    """Settings for one @given test: the active profile with its own example count."""
    return settings(PROFILE, max_examples=size(ci, long if long is not None else ci * 25))


def summary(suite: str, **figures: Any) -> str:
    """One copyable line of figures for docs/RELIABILITY.md (shown with ``pytest -s``)."""
    parts = " ".join(f"{name}={value}" for name, value in figures.items())
    line = f"RELIABILITY {suite} backend={BACKEND} long={int(LONG)} {parts}"
    print(line, flush=True)
    return line


# -- the Idem endpoints under test ---------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One keyed write: its path and body; ``token`` marks its side effect in the database."""

    path: str
    body: dict[str, Any]
    token: str


Caller = Callable[[str, str, str, dict[str, Any] | None], tuple[int, Any]]


@dataclass(frozen=True)
class IdemEndpoint:
    """An Idem endpoint the storm and crash suites drive.

    ``prepare(call, world, tokens)`` creates any prerequisite (without keys, through
    ``call(method, path, who, body) -> (status, json)``) and returns one Operation per token.
    ``effects_sql`` returns one row ``(token, n)`` per token with ``n`` side effects.
    ``optional`` names the body's fields that may be left out (the others are required).
    """

    name: str
    who: str
    prepare: Callable[[Caller, dict[str, Any], list[str]], list[Operation]]
    effects_sql: str
    optional: frozenset[str] = frozenset()


def _prepare_ticket_create(call: Caller, world: dict[str, Any], tokens: list[str]):
    return [
        Operation(
            "/tickets",
            {"subject": token, "description": "storm and crash suite", "category": "other"},
            token,
        )
        for token in tokens
    ]


def _prepare_ticket_message(call: Caller, world: dict[str, Any], tokens: list[str]):
    # A few tickets, so messages share paths (same path, different keys) and row locks.
    ticket_ids = []
    for number in range(min(4, max(1, len(tokens)))):
        status, body = call(
            "POST",
            "/tickets",
            "bob",
            {"subject": f"thread {number}", "description": "replies", "category": "other"},
        )
        assert status == 201, body
        ticket_ids.append(body["ticketId"])
    return [
        Operation(
            f"/tickets/{ticket_ids[index % len(ticket_ids)]}/messages", {"content": token}, token
        )
        for index, token in enumerate(tokens)
    ]


def _created(call: Caller, method: str, path: str, who: str, body: dict[str, Any], field: str):
    status, answer = call(method, path, who, body)
    assert status == 201, (path, answer)
    return answer[field]


def _game_match(call: Caller, world: dict[str, Any]) -> str:
    """An ACCEPTED match of alpha (alice's) against bravo (bob's), created by the game key."""
    teams = world["teams"]
    body = {"creatorTeamId": teams["alpha"], "acceptedTeamId": teams["bravo"]}
    body.update(gameModeId="prerequisite", bestOf=3, teamSize=2)
    return _created(call, "POST", "/game/matches/create", "game", body, "matchId")


def _one_match_each(action: str, body: Callable[[str], dict[str, Any]]):
    """Operations on a fresh ACCEPTED game match per token; the token marks the effect."""

    def prepare(call: Caller, world: dict[str, Any], tokens: list[str]) -> list[Operation]:
        return [
            Operation(f"/matches/{_game_match(call, world)}/{action}", body(token), token)
            for token in tokens
        ]

    return prepare


def _by_match_id(path: Callable[[str], str], body, make_match=None):
    """Operations on a fresh match per token, whose effect is counted by match id.

    ``body(world)`` builds the request body; ``make_match`` (default: an ACCEPTED game match).
    """

    def prepare(call: Caller, world: dict[str, Any], tokens: list[str]) -> list[Operation]:
        operations = []
        for _token in tokens:
            match_id = (make_match or _game_match)(call, world)
            operations.append(Operation(path(match_id), body(world), match_id))
        return operations

    return prepare


def _pending_match(call: Caller, world: dict[str, Any]) -> str:
    """A PENDING personal match created by alice's team alpha."""
    return _created(
        call, "POST", "/matches/create", "alice", _match_body(world, "pending"), "matchId"
    )


def _match_body(world: dict[str, Any], game_mode: str) -> dict[str, Any]:
    users = world["users"]
    return {
        "teamId": world["teams"]["alpha"],
        "gameId": world["games"]["demo-game"],
        "gameModeId": game_mode,
        "teamSize": 2,
        "bestOf": 3,
        "activeRoster": [users["alice"], users["amir"]],
    }


def _prepare_game_match_create(call: Caller, world: dict[str, Any], tokens: list[str]):
    teams = world["teams"]
    return [
        Operation(
            "/game/matches/create",
            {
                "creatorTeamId": teams["alpha"],
                "acceptedTeamId": teams["bravo"],
                "gameModeId": token,
                "bestOf": 3,
                "teamSize": 2,
            },
            token,
        )
        for token in tokens
    ]


def _prepare_match_create(call: Caller, world: dict[str, Any], tokens: list[str]):
    return [Operation("/matches/create", _match_body(world, token), token) for token in tokens]


def _prepare_season_create(call: Caller, world: dict[str, Any], tokens: list[str]):
    body = {"gameId": world["games"]["demo-game"], "startDate": 1767225600000}
    body["endDate"] = 1798761600000
    path = "/leagues/demo-league/seasons/create"
    return [Operation(path, {**body, "name": token}, token) for token in tokens]


def _prepare_league_ticket_create(call: Caller, world: dict[str, Any], tokens: list[str]):
    path = "/leagues/demo-league/tickets/create"
    body = {"description": "storm and crash suite", "priority": "high"}
    return [Operation(path, {"subject": token, **body}, token) for token in tokens]


def _prepare_league_ticket_reply(call: Caller, world: dict[str, Any], tokens: list[str]):
    ticket_ids = [
        _created(
            call,
            "POST",
            "/leagues/demo-league/tickets/create",
            "league",
            {"subject": f"thread {number}", "description": "replies"},
            "ticketId",
        )
        for number in range(min(4, max(1, len(tokens))))
    ]
    return [
        Operation(
            f"/leagues/demo-league/tickets/{ticket_ids[index % len(ticket_ids)]}/reply",
            {"content": token, "isInternal": False},
            token,
        )
        for index, token in enumerate(tokens)
    ]


def _prepare_chat_send(call: Caller, world: dict[str, Any], tokens: list[str]):
    match_ids = [_game_match(call, world) for _ in range(min(2, max(1, len(tokens))))]
    return [
        Operation(f"/matches/{match_ids[index % len(match_ids)]}/chat", {"content": token}, token)
        for index, token in enumerate(tokens)
    ]


def _prepare_chat_report(call: Caller, world: dict[str, Any], tokens: list[str]):
    # alice reports one message of bob's per token (a second report of hers would be a 200).
    match_id = _game_match(call, world)
    operations = []
    for token in tokens:
        message_id = _created(
            call, "POST", f"/matches/{match_id}/chat", "bob", {"content": "rude"}, "messageId"
        )
        operations.append(
            Operation(f"/chat/messages/{message_id}/report", {"reason": token}, token)
        )
    return operations


def _prepare_game_forfeit(call: Caller, world: dict[str, Any], tokens: list[str]):
    alpha = world["teams"]["alpha"]
    return [
        Operation(
            f"/game/matches/{_game_match(call, world)}/forfeit",
            {"forfeitingTeamId": alpha, "reason": token},
            token,
        )
        for token in tokens
    ]


ENDED_SQL = (
    "SELECT end_reason, count(*) FROM matches WHERE status = '{}' AND end_reason IS NOT NULL"
    " GROUP BY end_reason"
)

# Every Idem endpoint of API.md section 4. To add one: a body that carries a unique token (or a
# fresh resource per token), and a query that counts its side effect per token.
IDEM_ENDPOINTS: list[IdemEndpoint] = [
    IdemEndpoint(
        "ticket_create",
        "alice",
        _prepare_ticket_create,
        "SELECT subject, count(*) FROM support_tickets GROUP BY subject",
    ),
    IdemEndpoint(
        "ticket_message",
        "bob",
        _prepare_ticket_message,
        "SELECT content, count(*) FROM support_ticket_messages GROUP BY content",
    ),
    IdemEndpoint(
        "game_match_create",
        "game",
        _prepare_game_match_create,
        "SELECT game_mode_id, count(*) FROM matches WHERE created_by_game GROUP BY game_mode_id",
    ),
    IdemEndpoint(
        "game_forfeit",
        "game",
        _prepare_game_forfeit,
        ENDED_SQL.format("FORFEITED"),
        frozenset({"reason"}),
    ),
    IdemEndpoint(
        "season_create",
        "league",
        _prepare_season_create,
        "SELECT name, count(*) FROM seasons GROUP BY name",
    ),
    IdemEndpoint(
        "league_ticket_create",
        "league",
        _prepare_league_ticket_create,
        "SELECT subject, count(*) FROM league_tickets GROUP BY subject",
        frozenset({"priority"}),
    ),
    IdemEndpoint(
        "league_ticket_reply",
        "league",
        _prepare_league_ticket_reply,
        "SELECT content, count(*) FROM league_ticket_messages GROUP BY content",
        frozenset({"isInternal"}),
    ),
    IdemEndpoint(
        "match_create",
        "alice",
        _prepare_match_create,
        "SELECT game_mode_id, count(*) FROM matches WHERE NOT created_by_game"
        " GROUP BY game_mode_id",
    ),
    IdemEndpoint(
        "match_accept",
        "bob",
        _by_match_id(
            lambda match_id: f"/matches/{match_id}/accept",
            lambda world: {
                "teamId": world["teams"]["bravo"],
                "activeRoster": [world["users"]["bob"], world["users"]["bea"]],
            },
            _pending_match,
        ),
        "SELECT id, count(*) FROM matches WHERE status = 'ACCEPTED' AND NOT created_by_game"
        " GROUP BY id",
    ),
    IdemEndpoint(
        "match_ready",
        "alice",
        _by_match_id(lambda match_id: f"/matches/{match_id}/ready", lambda world: {}),
        "SELECT id, count(*) FROM matches WHERE creator_ready GROUP BY id",
    ),
    IdemEndpoint(
        "match_lobby_code",
        "alice",
        _one_match_each("lobby-code", lambda token: {"lobbyCode": token}),
        "SELECT lobby_code, count(*) FROM matches WHERE lobby_code IS NOT NULL GROUP BY lobby_code",
    ),
    IdemEndpoint(
        "match_cancel",
        "alice",
        _one_match_each("cancel", lambda token: {"reason": token}),
        ENDED_SQL.format("CANCELLED"),
        frozenset({"reason"}),
    ),
    IdemEndpoint(
        "match_forfeit",
        "alice",
        _one_match_each("forfeit", lambda token: {"reason": token}),
        ENDED_SQL.format("FORFEITED"),
        frozenset({"reason"}),
    ),
    IdemEndpoint(
        "match_attendance",
        "alice",
        _by_match_id(
            lambda match_id: f"/matches/{match_id}/attendance",
            lambda world: {"status": "ATTENDING"},
        ),
        "SELECT match_id, count(*) FROM match_roster WHERE attendance = 'ATTENDING'"
        " GROUP BY match_id",
    ),
    IdemEndpoint(
        "chat_send",
        "alice",
        _prepare_chat_send,
        "SELECT content, count(*) FROM chat_messages GROUP BY content",
    ),
    IdemEndpoint(
        "chat_report",
        "alice",
        _prepare_chat_report,
        "SELECT reason, count(*) FROM chat_reports GROUP BY reason",
        frozenset({"reason"}),
    ),
]


@dataclass(frozen=True)
class Job:
    """An operation bound to its endpoint, its caller and its Idempotency-Key."""

    endpoint: IdemEndpoint
    operation: Operation
    key: str


def plan_jobs(
    call: Caller, world: dict[str, Any], count: int, prefix: str, endpoints=None
) -> list[Job]:
    """``count`` jobs spread round-robin over the endpoints, prerequisites created.

    The same Idempotency-Key is used on every endpoint (other paths, other API keys): each is
    its own operation, so overlapping keys must never meet.
    """
    endpoints = list(endpoints or IDEM_ENDPOINTS)
    tokens: dict[str, list[str]] = {endpoint.name: [] for endpoint in endpoints}
    keys: dict[str, list[str]] = {endpoint.name: [] for endpoint in endpoints}
    for index in range(count):
        endpoint = endpoints[index % len(endpoints)]
        tokens[endpoint.name].append(f"{prefix}-{endpoint.name}-{index:05d}")
        keys[endpoint.name].append(f"{prefix}-{index // len(endpoints):05d}")
    jobs = []
    for endpoint in endpoints:
        operations = endpoint.prepare(call, world, tokens[endpoint.name])
        assert len(operations) == len(tokens[endpoint.name]), endpoint.name
        jobs += [
            Job(endpoint, op, key) for op, key in zip(operations, keys[endpoint.name], strict=True)
        ]
    return jobs


def count_effects(database_url: str, jobs: Iterable[Job]) -> dict[str, int]:
    """Side effects per job token, straight from the database (0 for a token never applied)."""
    jobs = list(jobs)
    found: Counter[str] = Counter()
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            # Endpoints may share a query (forfeits): each query counts once.
            for sql in {job.endpoint.effects_sql for job in jobs}:
                for token, number in connection.execute(text(sql)):
                    found[token] += number
    finally:
        engine.dispose()
    return {job.operation.token: found[job.operation.token] for job in jobs}


def count_rows(database_url: str, table: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


# -- a bounded threaded client ------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str | None
    location: str | None
    replayed: bool
    retry_after: str | None = None

    @property
    def error(self) -> str | None:
        if self.status < 400 or not self.body.startswith(b"{"):
            return None
        try:
            return json.loads(self.body).get("error")
        except ValueError:
            return None

    def same_response(self, other: Answer) -> bool:
        """Status, byte-identical body, Content-Type and Location all equal."""
        return (self.status, self.body, self.content_type, self.location) == (
            other.status,
            other.body,
            other.content_type,
            other.location,
        )


class Client:
    """Talks to one live server as the demo keys; one requests.Session per thread, loopback only."""

    def __init__(self, base_url: str, keys: dict[str, str], timeout: float = 60.0) -> None:
        assert base_url.startswith("http://127.0.0.1:"), "the suites only ever talk to loopback"
        self.base_url = base_url
        self.keys = keys
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(
        self, method: str, path: str, who: str, body: Any = None, key: str | None = None
    ) -> Answer:
        """One request; raises requests.ConnectionError when no answer came back."""
        headers = {"Authorization": f"Bearer {self.keys[who]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        response = self._session().request(
            method, self.base_url + path, json=body, headers=headers, timeout=self.timeout
        )
        return Answer(
            response.status_code,
            response.content,
            response.headers.get("Content-Type"),
            response.headers.get("Location"),
            response.headers.get("Idempotent-Replayed") == "true",
            response.headers.get("Retry-After"),
        )

    def call(self, method: str, path: str, who: str, body: Any = None) -> tuple[int, Any]:
        """A plain unkeyed call (for preparing prerequisites): status and parsed JSON."""
        answer = self.send(method, path, who, body)
        return answer.status, json.loads(answer.body)

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()


NO_ANSWER = (requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


@dataclass
class RetryOutcome:
    answer: Answer
    attempts: int
    lost: int  # attempts that got no answer at all
    waited: int  # attempts answered 409 in_use or 503


def send_until_answered(
    client: Client, job: Job, max_attempts: int = 400, deadline_s: float = 120.0
) -> RetryOutcome:
    """Retry with the same key and body until a final answer (not lost, not in_use, not 503)."""
    lost = waited = 0
    stop = time.monotonic() + deadline_s
    for attempt in range(1, max_attempts + 1):
        try:
            answer = client.send(
                "POST", job.operation.path, job.endpoint.who, job.operation.body, job.key
            )
        except NO_ANSWER:
            lost += 1
        else:
            if answer.status == 503 or answer.error == "error_idempotency_key_in_use":
                waited += 1
            else:
                return RetryOutcome(answer, attempt, lost, waited)
        if time.monotonic() > stop:
            break
        # A short client back-off so a respawning worker is not hammered; not a race wait.
        time.sleep(min(0.01 * attempt, 0.2))
    raise AssertionError(f"{job.key}: no final answer after {attempt} attempts")


def run_in_threads(threads: int, items: list[Any], work: Callable[[Any], Any]) -> list[Any]:
    """Apply ``work`` to every item with a fixed number of threads; results in item order."""
    results: list[Any] = [None] * len(items)
    errors: list[BaseException] = []
    cursor = iter(range(len(items)))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = next(cursor, None)
            if index is None or errors:
                return
            try:
                results[index] = work(items[index])
            except BaseException as error:
                errors.append(error)
                return

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return results


def fire_rounds(rounds: list[list[Callable[[], Any]]]) -> list[list[Any]]:
    """Run each round's calls at once: one thread per call, all released by one barrier."""
    width = max(len(calls) for calls in rounds)
    barrier = threading.Barrier(width)
    results: list[list[Any]] = [[None] * len(calls) for calls in rounds]
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        for number, calls in enumerate(rounds):
            try:
                barrier.wait(timeout=120)
            except threading.BrokenBarrierError:
                return
            if slot < len(calls):
                try:
                    results[number][slot] = calls[slot]()
                except BaseException as error:
                    errors.append(error)
                    barrier.abort()
                    return

    pool = [threading.Thread(target=worker, args=(slot,), daemon=True) for slot in range(width)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return results


# -- killing gunicorn workers ---------------------------------------------------------------------


def worker_pids(master_pid: int) -> list[int]:
    """The live children of the gunicorn master, read from /proc."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state, fields[1] the parent pid; Z = already dead, not yet reaped.
        if int(fields[1]) == master_pid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


@dataclass
class Killer:
    """SIGKILLs a random worker each time the client has sent a random number of requests."""

    master_pid: int
    every: tuple[int, int]
    seed: int = 0
    kills: int = 0
    _sent: int = 0
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._next = self._random.randint(*self.every)

    def tick(self) -> None:
        """Count one request about to be sent; maybe kill a worker now."""
        with self._lock:
            self._sent += 1
            if self._sent < self._next:
                return
            self._next = self._sent + self._random.randint(*self.every)
            victims = worker_pids(self.master_pid)
            if not victims:
                return
            victim = self._random.choice(victims)
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            return
        with self._lock:
            self.kills += 1


class KillingClient(Client):
    """A Client whose every request first gives the Killer its chance."""

    def __init__(self, base_url: str, keys: dict[str, str], killer: Killer, **kwargs: Any):
        super().__init__(base_url, keys, **kwargs)
        self.killer = killer

    def send(self, *args: Any, **kwargs: Any) -> Answer:
        self.killer.tick()
        return super().send(*args, **kwargs)
