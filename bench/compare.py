"""Comparison rows: another Python idempotency-key library on the same endpoint and database.

idemkit (PyPI, MIT) ships a WSGI middleware with Redis and PostgreSQL (asyncpg) backends.
It wraps ``app.wsgi_app``; it reads its key from ``X-Bench-Key`` so league_api's own layer
sees an unkeyed request and the view runs in its plain one-transaction path. The library is
installed into ``bench/.deps`` (``--target``), never into the project's requirements.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from common import BENCH_DIR, OTHER_KEY_HEADER

DEPS_DIR = BENCH_DIR / ".deps"
IDEMKIT_REQUIREMENT = "idemkit[redis,postgres]==1.0.2"
INSTALL_COMMAND = [
    sys.executable,
    "-m",
    "pip",
    "install",
    "--quiet",
    "--target",
    str(DEPS_DIR),
    IDEMKIT_REQUIREMENT,
    "matplotlib",  # bench/chart.py: the benchmark's chart, never a dependency of the project
]
REDIS_URL = "redis://127.0.0.1:6379/0"
LAYERS = ("idemkit-redis", "idemkit-pg")


def add_deps_to_path() -> None:
    # Appended, so the project's own venv always wins for anything both provide.
    if str(DEPS_DIR) not in sys.path:
        sys.path.append(str(DEPS_DIR))


def available(install: bool) -> tuple[bool, str]:
    """Whether idemkit can be imported (installing it into bench/.deps first if asked)."""
    add_deps_to_path()
    if install and not (DEPS_DIR / "idemkit").exists():
        subprocess.run(INSTALL_COMMAND, check=True)
    try:
        import idemkit  # noqa: F401
        import redis
    except ImportError as error:
        return False, f"idemkit not installed ({error}); run: {' '.join(INSTALL_COMMAND)}"
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        return False, f"Redis at {REDIS_URL} unreachable: {error}"
    return True, "idemkit " + _version("idemkit")


def _version(distribution: str) -> str:
    from importlib.metadata import version

    return version(distribution)


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return "postgresql://" + sqlalchemy_url.split("://", 1)[1]


def layers_for(is_postgres: bool) -> list[str]:
    """Redis everywhere; idemkit's PostgreSQL backend only where the app is on PostgreSQL."""
    return list(LAYERS) if is_postgres else ["idemkit-redis"]


def init_pg_table(database_url: str) -> None:
    """Create idemkit's table (what ``idemkit init-pg`` does) in the app's own database."""
    from idemkit.backends.postgres import init_pg

    asyncio.run(init_pg(asyncpg_dsn(database_url)))


def make_backend(layer: str, namespace: str, database_url: str | None):
    from idemkit import PostgresBackend, RedisBackend

    if layer == "idemkit-redis":
        return RedisBackend.from_url(REDIS_URL, namespace=namespace)
    if layer == "idemkit-pg":
        assert database_url is not None
        # Small pools: several gunicorn workers share one PostgreSQL with other users.
        return PostgresBackend.from_url(asyncpg_dsn(database_url), min_size=1, max_size=4)
    raise ValueError(layer)


def wrap(app, layer: str, namespace: str, database_url: str | None):
    """Put idemkit's WSGI middleware in front of ``app``; returns the backend object."""
    from idemkit import HttpConfig, WSGIIdempotencyMiddleware

    backend = make_backend(layer, namespace, database_url)
    app.wsgi_app = WSGIIdempotencyMiddleware(
        app.wsgi_app,
        backend=backend,
        config=HttpConfig(
            # Records are scoped per caller, as league_api scopes them per API key.
            scope=lambda request: request.headers.get("authorization"),
            key=lambda request: request.headers.get(OTHER_KEY_HEADER.lower()),
        ),
    )
    return backend


def clear_redis(namespace: str) -> int:
    """Delete this run's keys (only ``namespace:*``) from the shared local Redis."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start : start + 500])
    client.close()
    return len(keys)


@contextlib.contextmanager
def count_store_calls(layer: str, backend: Any) -> Iterator[Counter]:
    """Count the store round trips idemkit makes (Redis commands, asyncpg calls)."""
    calls: Counter = Counter()
    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, label: Any) -> None:
        original = getattr(owner, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            calls[label(args) if callable(label) else label] += 1
            return await original(*args, **kwargs)

        patches.append((owner, name, original))
        setattr(owner, name, counted)

    client = None
    if layer == "idemkit-redis":
        client = backend._client  # the library keeps its redis.asyncio client here
        patch(client, "execute_command", lambda args: f"redis {str(args[0]).upper()}")
    else:
        from asyncpg.connection import Connection

        for name in ("execute", "fetch", "fetchrow", "fetchval"):
            patch(Connection, name, lambda args: "SQL " + _sql_label(str(args[1])))
    try:
        yield calls
    finally:
        for owner, name, original in reversed(patches):
            if owner is client:
                delattr(owner, name)  # drop the instance attribute: the class method returns
            else:
                setattr(owner, name, original)


def _sql_label(query: str) -> str:
    words = query.split()
    if "pg_advisory_unlock_all" in query:
        return "pool reset (UNLISTEN/RESET ALL...)"
    if words[0].upper() == "SELECT" and len(words) > 1:
        return "SELECT " + words[1].split("(", 1)[0] + "()"
    return " ".join(words[:3]) if words[0].upper() in {"INSERT", "UPDATE"} else words[0].upper()
