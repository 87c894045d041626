"""One JSON log line per API request, Prometheus metrics of the same, and nothing secret logged."""

from __future__ import annotations

import json
import logging
import sqlite3

import pytest
from conftest import error_of
from sqlalchemy import select

from league_api.auth import hash_key
from league_api.db import db
from league_api.models import ApiKey

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


@pytest.fixture
def access(caplog):
    """The access log lines of the requests made so far, parsed."""
    caplog.set_level(logging.DEBUG)  # everything any logger emits, to search it for secrets

    def lines() -> list[dict]:
        return [
            json.loads(record.getMessage())
            for record in caplog.records
            if record.name == "league_api.access"
        ]

    return lines


def key_id(app, plaintext: str) -> str:
    with app.app_context():
        return db.session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(plaintext)))


def test_one_line_per_request_with_ids_route_and_outcomes(api, app, access):
    alice = api.world["keys"]["alice"]
    api.post("/tickets", "alice", TICKET, key="obs-1")
    api.post("/tickets", "alice", TICKET, key="obs-1")  # replay
    api.post("/tickets", "alice", {**TICKET, "subject": "x"}, key="obs-1")  # conflict
    api.get("/tickets", "alice", headers={"X-Request-Id": "trace-42"})
    api.get("/no-such-route")
    lines = access()
    assert len(lines) == 5
    assert {line["request_id"] for line in lines[:4]} != {None}
    assert len({line["request_id"] for line in lines}) == 5
    assert lines[3]["request_id"] == "trace-42"
    expected = [
        ("POST", "/api/v1/tickets", 201, "executed"),
        ("POST", "/api/v1/tickets", 201, "replayed"),
        ("POST", "/api/v1/tickets", 409, "conflict"),
        ("GET", "/api/v1/tickets", 200, None),
        ("GET", None, 404, None),
    ]
    assert [
        (line["method"], line["route"], line["status"], line["idempotency"]) for line in lines
    ] == expected
    alice_id = key_id(app, alice)
    assert [line["api_key_id"] for line in lines] == [alice_id] * 4 + [None]
    assert all(line["ratelimit"] == "allowed" for line in lines)
    assert all(line["duration_ms"] >= 0 and line["time"].endswith("+00:00") for line in lines)


def test_the_request_id_is_echoed_or_made(api):
    given = api.get("/openapi.json", headers={"X-Request-Id": "abc.DEF-1:2_3"})
    assert given.headers["X-Request-Id"] == "abc.DEF-1:2_3"
    made = api.get("/openapi.json").headers["X-Request-Id"]
    for unfit in ("has space", "x" * 129, "semi;colon", ""):
        replaced = api.get("/openapi.json", headers={"X-Request-Id": unfit})
        assert replaced.headers["X-Request-Id"] not in (unfit, made)
        assert len(replaced.headers["X-Request-Id"]) == 32


@pytest.mark.parametrize("app_config", [{"RATELIMIT_IP": "4/minute", "RATELIMIT_KEY": "1/minute"}])
def test_the_rate_limit_outcome(api, access):
    api.get("/tickets", "alice")
    api.get("/tickets", "alice")
    api.get("/tickets", "bob")
    api.get("/tickets", "bob")
    api.get("/tickets", "bob")
    assert [line["ratelimit"] for line in access()] == [
        "allowed",
        "key_limited",
        "allowed",
        "key_limited",
        "ip_limited",
    ]
    assert access()[-1]["api_key_id"] is None  # refused before authentication


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": False}])
def test_the_rate_limit_outcome_when_off(api, access):
    api.get("/tickets", "alice")
    assert access()[0]["ratelimit"] == "off"


@pytest.mark.backend("sqlite")
@pytest.mark.parametrize("app_config", [{"SQLITE_BUSY_TIMEOUT_MS": 50}])
def test_in_use_outcome(api, access, database_url):
    writer = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another request holds the write lock
    try:
        response = api.post("/tickets", "alice", TICKET, key="busy-1")
    finally:
        writer.rollback()
        writer.close()
    assert error_of(response) == (409, "error_idempotency_key_in_use")
    assert access()[-1]["idempotency"] == "in_use"


def test_nothing_secret_is_logged(api, app, caplog, access):
    """Keys, their hashes, Authorization headers and bodies never reach any log."""
    secrets = [api.world["keys"][who] for who in ("alice", "bob", "game")]
    secrets += [hash_key(secret) for secret in secrets]
    body = {**TICKET, "description": "my password is hunter2"}
    api.post("/tickets", "alice", body, key="secret-1")
    api.post("/tickets", "bob", body, key="secret-1")
    api.get("/tickets", headers={"Authorization": f"Bearer {secrets[0]}x"})  # a wrong key
    api.get("/tickets", headers={"Authorization": "Bearer lk_guessed-key-value"})
    api.get("/tickets?token=query-secret", "alice")
    assert len(access()) == 5
    text = caplog.text
    for secret in [*secrets, secrets[0] + "x", "lk_guessed-key-value", "hunter2", "query-secret"]:
        assert secret not in text


@pytest.mark.parametrize("app_config", [{"METRICS_ENABLED": True}])
def test_prometheus_metrics(api, client):
    api.post("/tickets", "alice", TICKET, key="m-1")
    api.post("/tickets", "alice", TICKET, key="m-1")
    api.get("/tickets", "alice")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    text = response.get_data(as_text=True)
    for series in (
        'league_api_requests_total{idempotency="executed",method="POST",ratelimit="allowed",'
        'route="/api/v1/tickets",status="201"} 1.0',
        'league_api_requests_total{idempotency="replayed",method="POST",ratelimit="allowed",'
        'route="/api/v1/tickets",status="201"} 1.0',
        'league_api_requests_total{idempotency="none",method="GET",ratelimit="allowed",'
        'route="/api/v1/tickets",status="200"} 1.0',
        'league_api_request_duration_seconds_count{method="POST",route="/api/v1/tickets"} 2.0',
    ):
        assert series in text, series
    assert 'le="0.005"' in text
    # The scrape itself is not an API request: not counted, not rate-limited.
    assert "/metrics" not in text and "RateLimit" not in response.headers


def test_metrics_are_opt_in(client):
    assert client.get("/metrics").status_code == 404


def test_metrics_add_up_gunicorn_workers_in_multiprocess_mode(live_server, tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, any worker's /metrics counts every worker's requests."""
    import requests

    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    server = live_server(
        workers=3,
        env={"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "FLASK_METRICS_ENABLED": "true"},
    )
    for _ in range(12):
        # A connection of its own each time, so the workers share the requests.
        assert requests.get(server.url + "/openapi.json", timeout=10).status_code == 200
    pids = {path.name.split("_")[-1] for path in metrics_dir.glob("counter_*.db")}
    text = requests.get(server.url.removesuffix("/api/v1") + "/metrics", timeout=10).text
    series = (
        'league_api_requests_total{idempotency="none",method="GET",ratelimit="allowed",'
        'route="/api/v1/openapi.json",status="200"} '
    )
    # Whichever worker answered the scrape, the count is every worker's (files per pid).
    assert series + "12.0" in text, (pids, text)
