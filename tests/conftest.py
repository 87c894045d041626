"""Shared fixtures: a real database per test (an SQLite file, or PostgreSQL when
LEAGUE_API_TEST_DATABASE_URL names one), the demo world, and real gunicorn servers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import commit_hook  # noqa: F401 - registers the before-commit test hook
import pytest
import requests
from openapi_conformance import ConformancePlugin
from sqlalchemy import create_engine, inspect

from league_api.db import db
from league_api.testing import SUITE_LIMITS, LeagueApi, make_league_app, seed_demo_world

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


@pytest.fixture
def database_url(league_database_url: str) -> str:
    """A fresh, empty database for one test (league_api.testing: an SQLite file, or a
    PostgreSQL database the plugin created for this session)."""
    return league_database_url


def wipe_database(database_url: str) -> None:
    """Drop every table and sequence (the plugin's PostgreSQL database outlives a test)."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        else:
            for table in inspect(connection).get_table_names():
                connection.exec_driver_sql(f'DROP TABLE "{table}"')
    engine.dispose()


@pytest.fixture
def empty_database_url(league_database_url: str):
    """A database with no table at all, wiped again afterwards: for tests that make tables of
    their own or leave the schema in odd states."""
    wipe_database(league_database_url)
    yield league_database_url
    wipe_database(league_database_url)


def make_app(database_url: str, **config: Any):
    return make_league_app(database_url, **config)


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Override in a module to give its ``app`` extra configuration."""
    return {}


@pytest.fixture
def league_app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return app_config


@pytest.fixture
def app(league_app):
    return league_app


@pytest.fixture
def client(league_client):
    return league_client


@pytest.fixture
def runner(league_runner):
    return league_runner


seed_world = seed_demo_world


@pytest.fixture
def world(league_world) -> dict[str, dict[str, str]]:
    """The demo world of API.md section 7: ids by name and plaintext keys."""
    return league_world


def error_of(response) -> tuple[int, str]:
    """A test-client error answer as (status, contract code)."""
    return response.status_code, response.get_json()["error"]


Api = LeagueApi


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
            **{f"FLASK_{name}": value for name, value in SUITE_LIMITS.items()},
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
