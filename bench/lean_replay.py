"""The lean floor: the least any replay of league_api must do, as a bare WSGI callable.

It authenticates (the key's row by its hash), computes the record's scope and the body's
fingerprint with league_api's own functions, reads the record by its scope, and answers its
stored bytes with the stored headers. Nothing else: no Flask, no key format or content-type
checks, no scopes, no rate limit, no metrics, no error answers (a request it cannot answer
fails the benchmark). Straight on the driver, one connection per process, autocommit. It is a
yardstick, not a design: what remains of a replay's cost once everything that could be skipped
is skipped.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from league_api.auth import hash_key
from league_api.db import TABLE_PREFIX
from league_api.idempotency.decorator import REPLAYED_HEADER
from league_api.idempotency.fingerprint import fingerprint, scope_hash
from league_api.idempotency.model import TABLE

KEY_HEADER = "HTTP_X_BENCH_KEY"  # the harness sends a comparison layer's key in this header


def make_lean_replay(url: str) -> Any:
    postgres = url.startswith("postgresql")
    mark = "%s" if postgres else "?"
    key_sql = (
        f"SELECT id FROM {TABLE_PREFIX}api_keys WHERE key_hash = {mark} AND revoked_at IS NULL"
    )
    record_sql = (
        f"SELECT fingerprint, status_code, headers, body FROM {TABLE_PREFIX}{TABLE} "
        f"WHERE scope_hash = {mark}"
    )
    connection: list[Any] = []  # opened on first use: after gunicorn forks its workers

    def connect() -> Any:
        if postgres:
            import psycopg

            return psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True)
        import sqlite3

        return sqlite3.connect(
            url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
        )

    def lean_replay(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if not connection:
            connection.append(connect())
        database = connection[0]
        token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")[2].strip()
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        (key_id,) = database.execute(key_sql, (hash_key(token),)).fetchone()
        path = environ.get("SCRIPT_NAME", "") + environ["PATH_INFO"]
        scope = scope_hash(key_id, environ["REQUEST_METHOD"], path, environ[KEY_HEADER])
        stored, status, headers, answer = database.execute(record_sql, (scope,)).fetchone()
        query = environ.get("QUERY_STRING", "").encode("latin-1")
        if stored != fingerprint(json.loads(body), query):
            raise RuntimeError("lean replay: the body is not the stored one")
        reply = [*json.loads(headers or "{}").items(), (REPLAYED_HEADER, "true")]
        start_response(f"{status} {HTTPStatus(status).phrase}", reply)
        return [bytes(answer)]

    return lean_replay
