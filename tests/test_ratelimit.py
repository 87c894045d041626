"""Rate limits: per client address before anything else, per API key right after
authentication; 429s with Retry-After and both header dialects; nothing runs for them."""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import error_of, free_port
from sqlalchemy import event, func, select

from league_api import ratelimit
from league_api.db import db
from league_api.idempotency import IdempotencyRecord
from league_api.models import SupportTicket
from league_api.ratelimit import DEFAULTS

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
# Minute windows: nothing in a test can outlive one, so no count resets half-way.
UNREACHABLE = "1000000/minute"
REDIS_URL = os.environ.get("LEAGUE_API_TEST_REDIS_URL")

# draft-ietf-httpapi-ratelimit-headers-11: lists of String items with Integer parameters.
POLICY_ITEM = re.compile(r'"(?P<name>[a-z]+-\d+s)";q=(?P<q>\d+);w=(?P<w>\d+)')
LIMIT_ITEM = re.compile(r'"(?P<name>[a-z]+-\d+s)";r=(?P<r>\d+);t=(?P<t>\d+)')


def items(pattern: re.Pattern[str], value: str) -> dict[str, dict[str, int]]:
    """Parse one of the two structured-field lists; every member must match."""
    parsed = {}
    for member in value.split(", "):
        match = pattern.fullmatch(member)
        assert match, (member, value)
        fields = match.groupdict()
        name = fields.pop("name")
        parsed[name] = {k: int(v) for k, v in fields.items()}
    return parsed


def limits_config(ip: str = UNREACHABLE, key: str = UNREACHABLE, **extra: Any) -> dict[str, Any]:
    return {"RATELIMIT_IP": ip, "RATELIMIT_KEY": key, **extra}


def count(app, model: Any) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def statements(app) -> Iterator[list[str]]:
    """Every SQL statement the app's engine runs, as sent."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def on_execute(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", on_execute)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)


def assert_limited(response, code: str) -> None:
    assert error_of(response) == (429, code)
    assert int(response.headers["Retry-After"]) >= 1
    assert "RateLimit" in response.headers and "RateLimit-Policy" in response.headers
    assert response.headers["X-RateLimit-Remaining"] == "0"


# -- per API key --------------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [limits_config(key="3/minute")])
def test_a_burst_over_the_key_limit_gets_429s_and_nothing_runs(api, app, statements):
    for n in range(3):
        assert api.post("/tickets", "alice", TICKET, key=f"burst-{n}").status_code == 201
    statements.clear()
    for n in range(3, 6):
        response = api.post("/tickets", "alice", TICKET, key=f"burst-{n}")
        assert_limited(response, "error_api_rate_limited")
        assert int(response.headers["Retry-After"]) <= 60
    # Authentication read the key; no write lock, no claim, no view ran.
    assert len(statements) == 3, statements
    assert all(s.startswith("SELECT") and " FROM api_keys " in s for s in statements), statements
    assert count(app, SupportTicket) == 3
    assert count(app, IdempotencyRecord) == 3  # the three that ran; no 429 is ever stored
    # One bucket per key across all routes: a read is refused too; another key is not.
    assert_limited(api.get("/tickets", "alice"), "error_api_rate_limited")
    assert api.get("/tickets", "bob").status_code == 200


@pytest.mark.parametrize("app_config", [limits_config(key="3/minute")])
def test_replays_and_conflicts_consume_tokens(api):
    assert api.post("/tickets", "alice", TICKET, key="r-1").status_code == 201
    replay = api.post("/tickets", "alice", TICKET, key="r-1")
    assert replay.headers["Idempotent-Replayed"] == "true"
    conflict = api.post("/tickets", "alice", {**TICKET, "subject": "other"}, key="r-1")
    assert error_of(conflict) == (409, "error_idempotency_key_conflict")
    assert_limited(api.post("/tickets", "alice", TICKET, key="r-1"), "error_api_rate_limited")


@pytest.mark.parametrize("app_config", [limits_config(key="1/minute")])
def test_the_key_limit_comes_after_authentication(api):
    assert api.get("/tickets", "alice").status_code == 200
    assert_limited(api.get("/tickets", "alice"), "error_api_rate_limited")
    # Without a key, or with a wrong one, the answer is the 401: nothing was counted for it.
    assert error_of(api.get("/tickets")) == (401, "error_api_key_required")
    bad = api.get("/tickets", headers={"Authorization": "Bearer lk_nope"})
    assert error_of(bad) == (401, "error_api_key_invalid")
    # Scope (403) is checked by the view, after the key's limit.
    assert_limited(api.post("/tickets", "alice", TICKET), "error_api_rate_limited")


@pytest.mark.backend("sqlite")
@pytest.mark.parametrize("app_config", [limits_config(key="1/minute", SQLITE_BUSY_TIMEOUT_MS=50)])
def test_authentication_and_the_key_limit_never_wait_for_the_write_lock(api, database_url):
    import sqlite3

    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        bad = api.post("/tickets", headers={"Authorization": "Bearer lk_nope"}, json_body=TICKET)
        assert error_of(bad) == (401, "error_api_key_invalid")
        # The first request reaches the write lock and gives up on it (503); the second is
        # refused by the key's limit before ever asking for the lock.
        assert error_of(api.post("/tickets", "alice", TICKET)) == (
            503,
            "error_service_unavailable",
        )
        assert_limited(api.post("/tickets", "alice", TICKET), "error_api_rate_limited")
    finally:
        writer.rollback()
        writer.close()


# -- per client address -------------------------------------------------------------------------


@pytest.mark.parametrize("app_config", [limits_config(ip="2/minute")])
def test_the_address_limit_comes_before_everything(api, app, statements):
    assert api.get("/tickets", "alice").status_code == 200
    assert api.get("/openapi.json").status_code == 200
    statements.clear()
    oversized = b"x" * (app.config["MAX_BODY_BYTES"] + 1)
    for response in (
        api.client.post("/api/v1/tickets", data=oversized, content_type="text/plain"),  # 413
        api.get("/tickets"),  # 401
        api.post("/tickets", "alice", TICKET, key="ip-1"),
        api.get("/no-such-route"),  # 404
        api.get("/openapi.json"),  # public
    ):
        assert_limited(response, "error_ip_rate_limited")
        assert set(items(POLICY_ITEM, response.headers["RateLimit-Policy"])) == {"ip-60s"}
    assert statements == []  # not one SQL statement for any of them
    assert count(app, SupportTicket) == 0
    assert count(app, IdempotencyRecord) == 0
    # Another address is not affected.
    other = api.get("/tickets", "alice", environ_overrides={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


@pytest.mark.parametrize(
    "app_config", [{name: DEFAULTS[name] for name in ("RATELIMIT_IP", "RATELIMIT_KEY")}]
)
def test_every_answer_carries_both_dialects(api):
    """Defaults: the address's and (once authenticated) the key's burst and sustained windows."""
    first = api.get("/tickets", "alice")
    second = api.get("/tickets", "alice")
    assert first.status_code == second.status_code == 200
    policies = items(POLICY_ITEM, second.headers["RateLimit-Policy"])
    assert policies == {
        "ip-1s": {"q": 100, "w": 1},
        "ip-60s": {"q": 3000, "w": 60},
        "key-1s": {"q": 50, "w": 1},
        "key-60s": {"q": 1500, "w": 60},
    }
    limits_now = items(LIMIT_ITEM, second.headers["RateLimit"])
    assert set(limits_now) == set(policies)
    before = items(LIMIT_ITEM, first.headers["RateLimit"])
    assert limits_now["key-60s"]["r"] == before["key-60s"]["r"] - 1 == 1500 - 2
    assert all(0 <= value["t"] <= policies[name]["w"] for name, value in limits_now.items())
    # The older dialect shows the policy closest to refusing: here the key's burst window.
    headers = second.headers
    assert headers["X-RateLimit-Limit"] == "50"
    assert int(headers["X-RateLimit-Remaining"]) == limits_now["key-1s"]["r"]
    assert int(headers["X-RateLimit-Reset"]) > 1_700_000_000  # a Unix time, in seconds
    assert "Retry-After" not in headers  # only where the contract puts it
    # Unauthenticated answers carry the address's policies only.
    public = api.get("/openapi.json")
    assert set(items(POLICY_ITEM, public.headers["RateLimit-Policy"])) == {"ip-1s", "ip-60s"}


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": False, "RATELIMIT_IP": "1/minute"}])
def test_off_with_one_setting(api):
    for _ in range(3):
        response = api.get("/tickets", "alice")
        assert response.status_code == 200
        assert not any(
            name.lower().startswith(("ratelimit", "x-ratelimit"))
            for name in response.headers.keys()
        )


@pytest.mark.parametrize(
    ("trusted", "forwarded", "same_bucket"),
    [
        # No trusted proxy: X-Forwarded-For is the client's own claim and is ignored.
        (0, ["198.51.100.1", "198.51.100.2"], True),
        # One proxy: the entry it appended names the client; what the client sent is not.
        (1, ["198.51.100.1", "198.51.100.2"], False),
        (1, ["203.0.113.9, 198.51.100.1", "203.0.113.9, 198.51.100.2"], False),
        (1, ["198.51.100.1, 203.0.113.5", "198.51.100.2, 203.0.113.5"], True),
        # Two proxies: the second entry from the right.
        (2, ["198.51.100.1, 10.0.0.1", "198.51.100.1, 10.0.0.2"], True),
        (2, ["198.51.100.1, 10.0.0.1", "198.51.100.2, 10.0.0.1"], False),
        # IPv6: one /64 is one client.
        (1, ["2001:db8::1", "2001:db8::2:3"], True),
        (1, ["2001:db8:0:1::1", "2001:db8:0:2::1"], False),
    ],
)
def test_trusted_proxies(database_url, trusted, forwarded, same_bucket):
    from conftest import make_app

    app = make_app(database_url, **limits_config(ip="1/minute", RATELIMIT_TRUSTED_PROXIES=trusted))
    client = app.test_client()
    answers = [
        client.get("/api/v1/openapi.json", headers={"X-Forwarded-For": value}).status_code
        for value in forwarded
    ]
    assert answers == ([200, 429] if same_bucket else [200, 200])
    with app.app_context():
        db.engine.dispose()


# -- storage ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app_config",
    [limits_config(key="3/minute", RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/1")],
)
def test_a_storage_outage_falls_back_to_counting_in_process(api, caplog):
    """A Redis URL to a closed port: every answer as usual, the limit still holds, one log."""
    with caplog.at_level(logging.INFO, logger="league_api.ratelimit"):
        answers = [api.post("/tickets", "alice", TICKET).status_code for _ in range(5)]
    assert answers == [201, 201, 201, 429, 429]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "counting in this process" in warnings[0].getMessage()
    assert "127.0.0.1" not in caplog.text  # the storage URI may carry a password


def test_a_per_worker_setup_says_so_at_start_up(live_server, tmp_path):
    server = live_server(workers=2, env={"FLASK_RATELIMIT_STORAGE_URI": "memory://"})
    assert requests.get(server.url + "/openapi.json", timeout=10).status_code == 200
    log = (tmp_path / "gunicorn.log").read_text()
    assert "rate limits are counted per gunicorn worker process" in log


def redis_url() -> str:
    if REDIS_URL:
        return REDIS_URL
    if os.environ.get("CI"):
        pytest.fail("LEAGUE_API_TEST_REDIS_URL must be set in CI")
    pytest.skip("set LEAGUE_API_TEST_REDIS_URL to run the Redis tests")


def test_with_redis_the_limit_holds_across_four_gunicorn_workers(live_server, served_world):
    """The case memory:// gets wrong (14 of 20 through a 5/minute limit): exactly 5 here."""
    prefix = f"league_api_test_{uuid.uuid4().hex}"
    server = live_server(
        workers=4,
        env={
            "FLASK_RATELIMIT_STORAGE_URI": redis_url(),
            "FLASK_RATELIMIT_STORAGE_PREFIX": prefix,
            "FLASK_RATELIMIT_KEY": "5/minute",
        },
    )
    key = served_world["keys"]["alice"]
    barrier = threading.Barrier(20)
    statuses: list[int] = []

    def call() -> None:
        with requests.Session() as session:  # a connection of its own: any worker takes it
            barrier.wait(timeout=30)
            response = session.get(
                server.url + "/tickets", headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200] * 5 + [429] * 15
    import redis

    client = redis.Redis.from_url(redis_url())
    try:
        assert client.keys(f"{prefix}:*"), "the counts were kept in Redis"
        client.delete(*client.keys(f"{prefix}:*"))
    finally:
        client.close()


def start_redis(port: int, tmp_path) -> subprocess.Popen:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server must be installed in CI")
        pytest.skip("redis-server is not installed")
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)  # process start-up, not a race


def test_counting_moves_back_to_redis_when_it_returns(tmp_path, monkeypatch, caplog):
    """A real Redis, stopped and started again: local counts meanwhile, shared counts after."""
    monkeypatch.setattr(ratelimit, "FALLBACK_SECONDS", 0.0)  # retry the storage at once
    port = free_port()
    server = start_redis(port, tmp_path)
    counter = ratelimit.Counter(f"redis://127.0.0.1:{port}/0", f"t{uuid.uuid4().hex}")
    try:
        assert counter.hit("k", 60, time.time())[0] == 1  # counted in Redis
        server.terminate()
        server.wait(timeout=10)
        with caplog.at_level(logging.INFO, logger="league_api.ratelimit"):
            assert counter.hit("k", 60, time.time())[0] == 1  # in this process now
            assert counter.hit("k", 60, time.time())[0] == 2
            server = start_redis(port, tmp_path)
            assert counter.hit("k", 60, time.time())[0] == 1  # a fresh Redis: its own count
        levels = [
            (record.levelname, record.getMessage().split(";")[0]) for record in caplog.records
        ]
        assert levels == [
            ("WARNING", "rate-limit storage failed (ConnectionError)"),
            ("INFO", "rate-limit storage failed (ConnectionError)"),
            ("WARNING", "rate-limit storage is back"),
        ]
    finally:
        server.terminate()
        server.wait(timeout=10)
