"""Shared fixtures: a real database per test (an SQLite file, or PostgreSQL when
LEAGUE_API_TEST_DATABASE_URL names one), the demo world, and real gunicorn servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_conformance import ConformancePlugin
from sqlalchemy import create_engine

from league_api import create_app
from league_api.db import db

# Set by .ci/run for the PostgreSQL pass; a plain `pytest` runs on SQLite files alone.
POSTGRES_URL = os.environ.get("LEAGUE_API_TEST_DATABASE_URL")
BACKEND = "postgresql" if POSTGRES_URL else "sqlite"


def pytest_configure(config) -> None:
    # Every response under /api/v1 is checked against the OpenAPI document (issue 7).
    config.pluginmanager.register(ConformancePlugin(), "openapi_conformance")


def pytest_collection_modifyitems(config, items) -> None:
    """``@pytest.mark.backend("postgresql")`` tests run only in that database's pass.

    They are deselected, not skipped, in the other pass: nothing is silently left out, each
    runs in the CI pass for its backend.
    """
    selected, deselected = [], []
    for item in items:
        marker = item.get_closest_marker("backend")
        (deselected if marker and BACKEND not in marker.args else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


_fresh_schemas: set[str] = set()


def reset_postgres(url: str) -> None:
    """Empty the database: a new schema on first use in this run, then DELETE every row."""
    engine = create_engine(url)
    with engine.begin() as connection:
        if url not in _fresh_schemas:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
            _fresh_schemas.add(url)
        else:
            tables = (
                connection.exec_driver_sql(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                )
                .scalars()
                .all()
            )
            # DELETE beats TRUNCATE by far on tiny tables; replica mode skips FK ordering.
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for table in tables:
                connection.exec_driver_sql(f"DELETE FROM {table}")
            sequences = (
                connection.exec_driver_sql(
                    "SELECT quote_ident(sequence_name) FROM information_schema.sequences"
                    " WHERE sequence_schema = 'public'"
                )
                .scalars()
                .all()
            )
            for sequence in sequences:
                connection.exec_driver_sql(f"ALTER SEQUENCE {sequence} RESTART")
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh, empty database for one test."""
    if POSTGRES_URL:
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'league.sqlite'}"


def make_app(database_url: str, **config: Any):
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, **config})


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a module to give its ``app`` extra configuration."""
    return {}


@pytest.fixture
def app(database_url: str, app_config: dict[str, Any]) -> Iterator[Any]:
    app = make_app(database_url, **app_config)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def seed_world(runner) -> dict[str, dict[str, str]]:
    result = runner.invoke(args=["demo-seed"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def world(runner) -> dict[str, dict[str, str]]:
    """The demo world of API.md section 7: ids by name and plaintext keys."""
    return seed_world(runner)


def error_of(response) -> tuple[int, str]:
    """A test-client error answer as (status, contract code)."""
    return response.status_code, response.get_json()["error"]


class Api:
    """Test-client calls under /api/v1 as a named demo key (``who``)."""

    def __init__(self, client, world: dict[str, dict[str, str]]) -> None:
        self.client = client
        self.world = world

    def headers(self, who: str | None = None, key: str | None = None, **extra: str):
        headers = dict(extra)
        if who is not None:
            headers["Authorization"] = f"Bearer {self.world['keys'][who]}"
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    def call(
        self,
        method: str,
        path: str,
        who: str | None = None,
        json_body: Any = None,
        key: str | None = None,
        **kwargs: Any,
    ):
        headers = {**self.headers(who, key), **kwargs.pop("headers", {})}
        if json_body is not None:
            kwargs["json"] = json_body
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, who: str | None = None, **kwargs: Any):
        return self.call("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = None, json_body: Any = None, **kwargs: Any):
        return self.call("POST", path, who, json_body, **kwargs)

    def patch(self, path: str, who: str | None = None, json_body: Any = None, **kwargs: Any):
        return self.call("PATCH", path, who, json_body, **kwargs)


@pytest.fixture
def api(client, world) -> Api:
    return Api(client, world)


# -- real server processes --------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """A gunicorn master with N workers serving league_api on one database."""

    def __init__(
        self,
        database_url: str,
        workers: int,
        log_path: Path,
        env: dict[str, str],
        app_spec: str = "league_api:create_app()",
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/api/v1"
        self.log_path = log_path
        server_env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            **env,
        }
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(workers),
                "--bind",
                f"127.0.0.1:{self.port}",
                "--graceful-timeout",
                "2",
                app_spec,
            ],
            env=server_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self.wait_until_ready()
        except BaseException:
            self.stop()  # a server that never came up must not outlive the test
            raise

    def wait_until_ready(self, timeout: float = 30.0) -> None:
        """Block until a worker answers (bounded); not a race, just process start-up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-2000:]}")
            try:
                requests.get(self.url + "/", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):
                # Timeout: accepted by the master's socket, but no worker has booted yet.
                time.sleep(0.05)
        raise RuntimeError("gunicorn did not start in time")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path):
    """Factory: ``live_server(workers=4, env={...})`` starts gunicorn; all stop at teardown.

    ``app_spec`` names another app factory for gunicorn (e.g. a test app under tests/apps/).
    """
    servers: list[LiveServer] = []

    def start(
        workers: int = 4,
        env: dict[str, str] | None = None,
        app_spec: str = "league_api:create_app()",
    ) -> LiveServer:
        server = LiveServer(
            database_url, workers, tmp_path / "gunicorn.log", env or {}, app_spec=app_spec
        )
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def served_world(database_url: str) -> dict[str, dict[str, str]]:
    """The demo world seeded into the database a live server will use."""
    app = make_app(database_url)
    world = seed_world(app.test_cli_runner())
    with app.app_context():
        db.engine.dispose()
    return world
