"""pytest plugin for projects that test against league_api (registered as ``pytest11``).

Installed with league_api, it gives every test session these fixtures, all prefixed
``league_`` so they never clash with pytest-flask's ``app`` and ``client``:

``league_database_url``  a fresh, empty database for one test: an SQLite file in the test's
                         tmp_path, or, when ``LEAGUE_API_TEST_DATABASE_URL`` (or
                         ``--league-database-url``) names a PostgreSQL server, a database the
                         plugin creates for the session (``<that name>_league_<random>``),
                         empties between tests and drops at the end. The database in the URL is
                         only used to connect; nothing in it is read or written.
``league_app_config``    override it to add configuration to ``league_app``.
``league_app``           ``league_api.create_app()`` on that database (TESTING on).
``league_client``        its Flask test client.
``league_runner``        its CLI runner.
``league_world``         the demo world (``demo-seed``): ids by name and plain API keys.
``league_http``          test-client calls under /api/v1 as a demo user (``LeagueApi``).
``league_assert_replayed`` ``(first, retry)``: the retry was a byte-for-byte replay.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENV_URL = "LEAGUE_API_TEST_DATABASE_URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("league_api")
    group.addoption(
        "--league-database-url",
        default=None,
        help=f"PostgreSQL server URL for league_ fixtures (default: ${ENV_URL}, else SQLite)",
    )


def postgres_server_url(config: pytest.Config) -> str | None:
    """The PostgreSQL URL the session was given, if any (SQLite otherwise)."""
    url = config.getoption("--league-database-url", default=None) or os.environ.get(ENV_URL)
    return url or None


# -- PostgreSQL: one throwaway database per session -----------------------------------------------


class ThrowawayPostgres:
    """A database this plugin created, and so may empty and drop; never any other."""

    def __init__(self, server_url: str) -> None:
        from sqlalchemy.engine import make_url

        server = make_url(server_url)
        if not server.drivername.startswith("postgresql"):
            raise pytest.UsageError(f"{ENV_URL} must be a postgresql URL, not {server.drivername}")
        base = server.database or "postgres"
        self.name = f"{base}_league_{secrets.token_hex(4)}"
        self.server = server
        self.url = server.set(database=self.name).render_as_string(hide_password=False)
        self._admin("CREATE DATABASE {}")
        self.emptied_once = False

    def _admin(self, statement: str) -> None:
        from sqlalchemy import create_engine

        # Through the maintenance database: the one in the URL need not even exist.
        engine = create_engine(self.server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                name = connection.dialect.identifier_preparer.quote(self.name)
                connection.exec_driver_sql(statement.format(name))
        finally:
            engine.dispose()

    def empty(self) -> None:
        """Delete every row (migration version tables keep theirs: their tables stay)."""
        from sqlalchemy import create_engine

        engine = create_engine(self.url)
        try:
            with engine.begin() as connection:
                tables = (
                    connection.exec_driver_sql(
                        "SELECT quote_ident(tablename) FROM pg_tables"
                        " WHERE schemaname = current_schema()"
                        " AND right(tablename, 15) <> 'alembic_version'"
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
                        " WHERE sequence_schema = current_schema()"
                    )
                    .scalars()
                    .all()
                )
                for sequence in sequences:
                    connection.exec_driver_sql(f"ALTER SEQUENCE {sequence} RESTART")
        finally:
            engine.dispose()

    def drop(self) -> None:
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)")


@pytest.fixture(scope="session")
def league_postgres(request: pytest.FixtureRequest) -> Iterator[ThrowawayPostgres | None]:
    """The session's throwaway PostgreSQL database, or None when testing on SQLite."""
    url = postgres_server_url(request.config)
    if url is None:
        yield None
        return
    database = ThrowawayPostgres(url)
    try:
        yield database
    finally:
        database.drop()


@pytest.fixture
def league_database_url(league_postgres: ThrowawayPostgres | None, tmp_path: Path) -> str:
    """A fresh, empty database for one test (see the module docstring)."""
    if league_postgres is not None:
        league_postgres.empty()
        return league_postgres.url
    return f"sqlite:///{tmp_path / 'league.sqlite'}"


# -- the app and the demo world --------------------------------------------------------------------


# A test suite's traffic far exceeds a league's: rate limits stay on (every answer carries their
# headers) but out of reach, unless a test sets its own.
SUITE_LIMITS = {"RATELIMIT_IP": "1000000/second", "RATELIMIT_KEY": "1000000/second"}


def make_league_app(database_url: str, **config: Any):
    from league_api import create_app

    return create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, **SUITE_LIMITS, **config}
    )


def dispose(app: Any) -> None:
    """Close the app's pooled connections (a test's database may be dropped next)."""
    with app.app_context():
        for engine in app.extensions["sqlalchemy"].engines.values():
            engine.dispose()


@pytest.fixture
def league_app_config() -> dict[str, Any]:
    """Override in a test module or conftest to give ``league_app`` extra configuration."""
    return {}


@pytest.fixture
def league_app(league_database_url: str, league_app_config: dict[str, Any]) -> Iterator[Any]:
    app = make_league_app(league_database_url, **league_app_config)
    yield app
    dispose(app)


@pytest.fixture
def league_client(league_app: Any) -> Any:
    return league_app.test_client()


@pytest.fixture
def league_runner(league_app: Any) -> Any:
    return league_app.test_cli_runner()


def seed_demo_world(runner: Any) -> dict[str, dict[str, str]]:
    """Run ``demo-seed`` and return its ids and keys."""
    result = runner.invoke(args=["demo-seed"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def league_world(league_runner: Any) -> dict[str, dict[str, str]]:
    """The demo world of API.md section 7: ``users``, ``teams``, ``games``, ``leagues`` (ids by
    name) and ``keys`` (plain API keys by demo user, plus ``game`` and ``league``)."""
    return seed_demo_world(league_runner)


class LeagueApi:
    """Test-client calls under /api/v1 as a named demo key (``who``)."""

    def __init__(self, client: Any, world: dict[str, dict[str, str]], prefix: str = "/api/v1"):
        self.client = client
        self.world = world
        self.prefix = prefix

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
        return self.client.open(self.prefix + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, who: str | None = None, **kwargs: Any):
        return self.call("GET", path, who, **kwargs)

    def post(self, path: str, who: str | None = None, json_body: Any = None, **kwargs: Any):
        return self.call("POST", path, who, json_body, **kwargs)

    def patch(self, path: str, who: str | None = None, json_body: Any = None, **kwargs: Any):
        return self.call("PATCH", path, who, json_body, **kwargs)


@pytest.fixture
def league_http(league_client: Any, league_world: dict[str, dict[str, str]]) -> LeagueApi:
    return LeagueApi(league_client, league_world)


# -- replays ------------------------------------------------------------------------------------


def assert_replayed(first: Any, retry: Any) -> None:
    """``retry`` (a keyed retry of ``first``) was answered from the stored record, byte for byte.

    Works with Flask test-client responses and with ``requests``/``httpx`` responses.
    """
    body_of = _body
    assert first.headers.get("Idempotent-Replayed") is None, "the first answer was a replay"
    assert retry.headers.get("Idempotent-Replayed") == "true", "the retry ran again"
    assert retry.status_code == first.status_code
    assert body_of(retry) == body_of(first), "the replayed body differs"
    for header in ("Content-Type", "Location"):
        assert retry.headers.get(header) == first.headers.get(header), header


def _body(response: Any) -> bytes:
    data = getattr(response, "data", None)  # Flask's test client
    return data if isinstance(data, bytes) else response.content


@pytest.fixture
def league_assert_replayed():
    return assert_replayed
