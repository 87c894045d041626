"""Shared pieces of the benchmark: databases, the app under test, request kinds, statistics."""

from __future__ import annotations

import json
import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event

from league_api import create_app
from league_api.db import db

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
PATH = "/api/v1/tickets"
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
OTHER_TICKET = {**TICKET, "subject": "Something else"}
BODY = json.dumps(TICKET).encode()
OTHER_BODY = json.dumps(OTHER_TICKET).encode()
LEAGUE_KEY_HEADER = "Idempotency-Key"
# The comparison library reads its key from its own header, so league_api's layer sees an
# unkeyed request and the view runs exactly as in the baseline (one plain transaction).
OTHER_KEY_HEADER = "X-Bench-Key"


@dataclass(frozen=True)
class Backend:
    name: str
    label: str
    url: str
    synchronous: str = "FULL"

    @property
    def is_postgres(self) -> bool:
        return self.url.startswith("postgresql")


def make_backends(names: list[str], workdir: Path, pg_url: str | None) -> list[Backend]:
    """The databases to measure; SQLite files live in ``workdir`` (a real disk, fsync counts)."""
    known = {
        "sqlite-full": Backend(
            "sqlite-full", "SQLite, synchronous=FULL", f"sqlite:///{workdir / 'full.sqlite'}"
        ),
        "sqlite-normal": Backend(
            "sqlite-normal",
            "SQLite, synchronous=NORMAL",
            f"sqlite:///{workdir / 'normal.sqlite'}",
            "NORMAL",
        ),
    }
    if pg_url:
        known["postgres"] = Backend("postgres", "PostgreSQL", pg_url)
    backends = []
    for name in names:
        if name not in known:
            raise SystemExit(f"unknown or unavailable backend {name!r} (PostgreSQL needs --pg-url)")
        backends.append(known[name])
    return backends


def reset_database(backend: Backend) -> None:
    """Start from an empty database: drop the PostgreSQL schema, delete the SQLite file."""
    if backend.is_postgres:
        engine = create_engine(backend.url)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            connection.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
        return
    path = Path(backend.url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def app_config(backend: Backend) -> dict[str, Any]:
    # The rate limiter is off: the load would trip it, and its own cost is measured apart
    # (bench/ratelimit.py, bench/cpu.py).
    return {
        "SQLALCHEMY_DATABASE_URI": backend.url,
        "SQLITE_SYNCHRONOUS": backend.synchronous,
        "RATELIMIT_ENABLED": False,
    }


def make_app(backend: Backend, **extra: Any):
    """The real app (create_app), as production runs it: no TESTING flag."""
    return create_app({**app_config(backend), **extra})


def make_layer_app(backend: Backend, layer: str, namespace: str):
    """A second app on the same database, wrapped in a comparison library."""
    import compare

    app = make_app(backend)
    return app, compare.wrap(app, layer, namespace, backend.url)


def seed(app) -> dict[str, dict[str, str]]:
    result = app.test_cli_runner().invoke(args=["demo-seed"])
    if result.exit_code != 0:
        raise RuntimeError(f"demo-seed failed: {result.output}")
    return json.loads(result.stdout)


def dispose(app) -> None:
    with app.app_context():
        db.engine.dispose()


# -- request kinds ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of request: which idempotency layer, and which path through it."""

    # "league" (this project) or a comparison library such as "idemkit-redis".
    layer: str
    mode: str  # "none" (no key: the baseline), "first", "replay" or "conflict"

    @property
    def name(self) -> str:
        return "baseline" if self.mode == "none" else f"{self.layer}:{self.mode}"

    @property
    def key_header(self) -> str:
        return LEAGUE_KEY_HEADER if self.is_league else OTHER_KEY_HEADER

    @property
    def is_league(self) -> bool:
        return self.layer == "league"

    @property
    def body(self) -> bytes:
        return OTHER_BODY if self.mode == "conflict" else BODY

    @property
    def expected_status(self) -> int:
        if self.mode == "conflict":
            return 409 if self.is_league else 422
        return 201


BASELINE = Kind("league", "none")

# The floors: what an answer costs in the same harness when it does little or nothing of its
# own. They bound from below what a replay could cost: ``floor-flask`` is bench/bare_app.py
# (Flask parses the body and answers the same JSON), ``floor-wsgi`` a bare WSGI callable that
# reads the body and answers fixed bytes (an answer given before any app), ``floor-lean``
# bench/lean_replay.py (the least a replay must do: the key's row, the scope and fingerprint,
# the record's row, its stored answer; no Flask). ``floor-lean`` replays league_api's keys.
FLOOR_LAYERS = ("floor-flask", "floor-wsgi", "floor-lean")


def floor_mode(layer: str) -> str:
    return "replay" if layer == "floor-lean" else "answer"


def kinds_for(layers: list[str]) -> list[Kind]:
    kinds = [BASELINE]
    for layer in layers:
        if layer in FLOOR_LAYERS:
            kinds.append(Kind(layer, floor_mode(layer)))
        else:
            kinds += [Kind(layer, mode) for mode in ("first", "replay", "conflict")]
    return kinds


def make_floor_app(layer: str, backend: Backend):
    """A Flask app for a floor layer (so the test client is the same as for league_api)."""
    from bare_app import ANSWER, create_bare_app

    app = create_bare_app()
    if layer == "floor-lean":
        from lean_replay import make_lean_replay

        app.wsgi_app = make_lean_replay(backend.url)  # type: ignore[method-assign]
    elif layer == "floor-wsgi":
        body = json.dumps(ANSWER).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Location", "/api/v1/tickets/" + ANSWER["ticketId"]),
        ]

        def stored_answer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            start_response("201 CREATED", headers)
            return [body]

        app.wsgi_app = stored_answer  # type: ignore[method-assign]
    elif layer != "floor-flask":
        raise ValueError(f"not a floor layer: {layer}")
    return app


def stored_keys(layer: str, count: int, tag: str) -> list[str]:
    """Keys that a setup step stores once, for the replay and conflict kinds."""
    return [f"{tag}-{layer}-stored-{index}" for index in range(count)]


# -- statistics -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "median": statistics.median(ordered) if ordered else float("nan"),
        "p90": percentile(ordered, 0.90),
        "p99": percentile(ordered, 0.99),
        "mean": statistics.fmean(ordered) if ordered else float("nan"),
    }


def quartiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    if len(ordered) < 4:
        return (ordered[0], ordered[-1]) if ordered else (float("nan"), float("nan"))
    low, _, high = statistics.quantiles(ordered, n=4)
    return low, high


def shuffled(items: list[Any], rng: random.Random) -> list[Any]:
    copy = list(items)
    rng.shuffle(copy)
    return copy


# -- SQL statement counting -------------------------------------------------------------------


def statement_label(statement: str) -> str:
    """Verb plus table or function, e.g. ``SELECT idempotency_records`` (as the budget test)."""
    words = statement.split()
    verb = words[0].upper()
    text = " ".join(words)
    if verb == "SELECT":
        if " FROM " in text:
            return "SELECT " + text.split(" FROM ", 1)[1].split(" ", 1)[0]
        return "SELECT " + words[1].split("(", 1)[0] + "()"
    if verb == "INSERT":
        conflict = " ON CONFLICT" if " ON CONFLICT " in text else ""
        return f"INSERT {words[2]}{conflict}"
    if verb == "WITH" and " INSERT INTO " in text:
        table = text.split(" INSERT INTO ", 1)[1].split(" ", 1)[0]
        return f"INSERT {table} ON CONFLICT (set_config in a CTE)"
    if verb == "UPDATE":
        return f"UPDATE {words[1]}"
    if verb in {"SAVEPOINT", "RELEASE"}:
        return f"{verb} SAVEPOINT" if verb == "RELEASE" else "SAVEPOINT"
    if verb == "ROLLBACK":
        return "ROLLBACK TO SAVEPOINT"
    return text.upper() if verb == "BEGIN" else verb


class StatementCounter:
    """Statements (``before_cursor_execute``) and transaction ends on one engine."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.labels: list[str] = []

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        event.listen(self.engine, "commit", self._on_commit)
        event.listen(self.engine, "rollback", self._on_rollback)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._on_execute)
        event.remove(self.engine, "commit", self._on_commit)
        event.remove(self.engine, "rollback", self._on_rollback)

    def _on_execute(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        self.labels.append(statement_label(statement))

    def _on_commit(self, _conn) -> None:
        self.labels.append("COMMIT")

    def _on_rollback(self, _conn) -> None:
        self.labels.append("ROLLBACK")


def describe_statements(labels: list[str]) -> dict[str, Any]:
    ends = {"COMMIT", "ROLLBACK"}
    sql = [label for label in labels if label not in ends]
    return {
        "sequence": labels,
        "statements": len(sql),
        "commits": labels.count("COMMIT"),
        "rollbacks": labels.count("ROLLBACK"),
    }
