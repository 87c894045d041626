"""Fail closed (API.md 2 and 6): when the database cannot be used, every Idem endpoint answers
503 ``error_service_unavailable`` with Retry-After and no trace, and the view never runs.

Unreachable from the start (closed port, missing database, a file that is not a database),
and lost mid-life (PostgreSQL behind a loopback proxy that is cut, also between the view and
its COMMIT; an SQLite volume that disappears): once it is back, the same key runs exactly once.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any

import pytest
from commit_hook import HOOK
from conftest import POSTGRES_URL, SUITE_LIMITS, free_port, seed_world
from reliability import IDEM_ENDPOINTS, plan_jobs, summary
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from league_api import create_app
from league_api.db import db
from league_api.idempotency import IdempotencyRecord, decorator

BROKEN = {
    "TESTING": True,
    "PROPAGATE_EXCEPTIONS": False,
    "AUTO_INIT_DB": False,
    **SUITE_LIMITS,
}
# What a body must never reveal about the failure.
LEAKS = ("Traceback", "sqlite3", "psycopg", "OperationalError", "DatabaseError", "postgres")


@pytest.fixture
def view_runs(monkeypatch) -> list[str]:
    """Names of the views that ran (keyed or not) through the idempotency layer."""
    runs: list[str] = []
    in_savepoint = decorator._run_view_in_savepoint
    alone = decorator._run_view_alone
    run_write = decorator.run_write

    def spy_savepoint(view, *args: Any):
        runs.append(view.__name__)
        return in_savepoint(view, *args)

    def spy_alone(session, view, *args: Any):
        runs.append(view.__name__)
        return alone(session, view, *args)

    def spy_run_write(view, *args: Any, **kwargs: Any):
        runs.append(view.__name__)
        return run_write(view, *args, **kwargs)

    monkeypatch.setattr(decorator, "_run_view_in_savepoint", spy_savepoint)
    monkeypatch.setattr(decorator, "_run_view_alone", spy_alone)
    monkeypatch.setattr(decorator, "run_write", spy_run_write)
    return runs


@pytest.fixture
def operations(api, world):
    """One valid operation per Idem endpoint, prepared on the working test database."""

    def call(method: str, path: str, who: str, body: Any) -> tuple[int, Any]:
        response = api.call(method, path, who, body)
        return response.status_code, response.get_json()

    return plan_jobs(call, world, len(IDEM_ENDPOINTS), prefix="closed")


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.get_data()[:300]
    assert response.get_json() == {
        "error": "error_service_unavailable",
        "details": response.get_json()["details"],
    }
    assert response.headers["Retry-After"].isdigit()
    assert int(response.headers["Retry-After"]) >= 1
    body = response.get_data(as_text=True)
    assert not [leak for leak in LEAKS if leak in body], body


def post(client, job, plaintext_key: str, idempotency_key: str | None):
    headers = {"Authorization": f"Bearer {plaintext_key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return client.post("/api/v1" + job.operation.path, json=job.operation.body, headers=headers)


def closed_port_url() -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/league?connect_timeout=2"


def missing_database_url() -> str:
    return (
        make_url(POSTGRES_URL)
        .set(database="league_api_no_such_database")
        .render_as_string(hide_password=False)
    )


def not_a_database(tmp_path: Path) -> str:
    path = tmp_path / "not-a-database.sqlite"
    path.write_bytes(b"these bytes are no SQLite header " * 256)
    return f"sqlite:///{path}"


PG = pytest.mark.backend("postgresql")
SQLITE = pytest.mark.backend("sqlite")
UNREACHABLE = [
    pytest.param(lambda tmp: closed_port_url(), id="pg-closed-port", marks=PG),
    pytest.param(lambda tmp: missing_database_url(), id="pg-missing-database", marks=PG),
    pytest.param(lambda tmp: f"sqlite:///{tmp / 'gone' / 'db.sqlite'}", id="no-dir", marks=SQLITE),
    pytest.param(not_a_database, id="sqlite-not-a-database", marks=SQLITE),
    pytest.param(lambda tmp: f"sqlite:///{tmp}", id="sqlite-a-directory", marks=SQLITE),
]


@pytest.mark.parametrize("make_url_for", UNREACHABLE)
def test_an_unusable_database_answers_503_and_runs_nothing(
    make_url_for, tmp_path, operations, world, view_runs
):
    broken = create_app({**BROKEN, "SQLALCHEMY_DATABASE_URI": make_url_for(tmp_path)})
    client = broken.test_client()
    for job in operations:
        plaintext = world["keys"][job.endpoint.who]
        for idempotency_key in ("fail-closed", None):
            assert_unavailable(post(client, job, plaintext, idempotency_key))
        # A read fails closed the same way.
        assert_unavailable(
            client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {plaintext}"})
        )
    assert view_runs == []
    with broken.app_context():
        db.engine.dispose()
    summary(
        "fail-closed-unusable",
        requests=3 * len(operations),
        answers_503=3 * len(operations),
        views_run=len(view_runs),
        server_errors_other_than_503=0,
    )


# -- lost mid-life -------------------------------------------------------------------------------


def count_records(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(IdempotencyRecord))


def effects(app, job) -> int:
    with app.app_context():
        rows = dict(db.session.execute(text(job.endpoint.effects_sql)).all())
    return rows.get(job.operation.token, 0)


def retry_once_back(client, job, plaintext: str, key: str):
    """The same request until the database answers again (bounded: a few pool reconnects)."""
    for _ in range(5):
        response = post(client, job, plaintext, key)
        if response.status_code != 503:
            return response
    raise AssertionError("the database is back but requests still fail")


def check_back_exactly_once(app, client, job, plaintext: str, key: str) -> None:
    response = retry_once_back(client, job, plaintext, key)
    assert response.status_code in (200, 201), response.get_data()
    # Nothing of the failed attempt was committed, so the operation runs now, not a replay.
    assert "Idempotent-Replayed" not in response.headers
    again = post(client, job, plaintext, key)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_data() == response.get_data()
    assert effects(app, job) == 1


class LoopbackProxy:
    """A TCP relay on 127.0.0.1 to the test PostgreSQL that can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(16)
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed: cut
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Refuse new connections and break every open one, as a lost database host would."""
        # shutdown() first: on Linux it wakes the accept() blocked in the relay thread, which
        # would otherwise keep the port listening after close().
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


@pytest.mark.backend("postgresql")
def test_postgresql_lost_mid_life_fails_closed_then_runs_each_key_once(database_url, view_runs):
    target = make_url(database_url)
    proxy = LoopbackProxy((target.host or "127.0.0.1", target.port or 5432))
    url = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app({**BROKEN, "AUTO_INIT_DB": True, "SQLALCHEMY_DATABASE_URI": url})
    world = seed_world(app.test_cli_runner())
    client = app.test_client()

    def call(method: str, path: str, who: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {world['keys'][who]}"}
        response = client.open("/api/v1" + path, method=method, json=body, headers=headers)
        return response.status_code, response.get_json()

    jobs = plan_jobs(call, world, 2 * len(IDEM_ENDPOINTS), prefix="cut")
    try:
        for number, job in enumerate(jobs):
            plaintext = world["keys"][job.endpoint.who]
            key = f"cut-{number}"
            if number % 2 == 0:
                # The database goes away between requests: nothing runs while it is gone.
                proxy.cut()
                runs = len(view_runs)
                assert_unavailable(post(client, job, plaintext, key))
                assert_unavailable(post(client, job, plaintext, None))
                assert len(view_runs) == runs
            else:
                # It goes away after the view ran, before COMMIT: the work is lost with it.
                def cut_before_commit(_key: str) -> None:
                    app.config[HOOK] = None
                    proxy.cut()

                app.config[HOOK] = cut_before_commit
                assert_unavailable(post(client, job, plaintext, key))
            proxy.restore()
            check_back_exactly_once(app, client, job, plaintext, key)
        assert count_records(app) == len(jobs)
        summary("fail-closed-pg-cut", operations=len(jobs), cuts=len(jobs), effects=len(jobs))
    finally:
        with app.app_context():
            db.engine.dispose()
        proxy.cut()


@pytest.mark.backend("sqlite")
def test_sqlite_volume_lost_mid_life_fails_closed_then_runs_each_key_once(tmp_path, view_runs):
    volume = tmp_path / "volume"
    volume.mkdir()
    database = volume / "league.sqlite"
    app = create_app(
        {**BROKEN, "AUTO_INIT_DB": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"}
    )
    world = seed_world(app.test_cli_runner())
    client = app.test_client()

    def call(method: str, path: str, who: str, body: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {world['keys'][who]}"}
        response = client.open("/api/v1" + path, method=method, json=body, headers=headers)
        return response.status_code, response.get_json()

    def unmount() -> None:
        volume.rename(tmp_path / "unmounted")

    def mount() -> None:
        (tmp_path / "unmounted").rename(volume)

    def corrupt() -> None:
        database.rename(tmp_path / "aside.sqlite")
        database.write_bytes(os.urandom(8192))

    def repair() -> None:
        (tmp_path / "aside.sqlite").replace(database)

    jobs = plan_jobs(call, world, 2 * len(IDEM_ENDPOINTS), prefix="volume")
    for number, job in enumerate(jobs):
        plaintext = world["keys"][job.endpoint.who]
        key = f"volume-{number}"
        lose, restore = (unmount, mount) if number % 2 == 0 else (corrupt, repair)
        with app.app_context():
            db.engine.dispose()  # no open file handle survives the loss
        lose()
        runs = len(view_runs)
        assert_unavailable(post(client, job, plaintext, key))
        assert_unavailable(post(client, job, plaintext, None))
        assert len(view_runs) == runs
        with app.app_context():
            db.engine.dispose()
        restore()
        check_back_exactly_once(app, client, job, plaintext, key)
    assert count_records(app) == len(jobs)
    with app.app_context():
        db.engine.dispose()
    summary("fail-closed-sqlite-lost", operations=len(jobs), losses=len(jobs), effects=len(jobs))
