"""The records table's own cost: 1,000,000 stored records against 10,000, and the purge's stall.

    .venv/bin/python bench/records.py [--big 1000000] [--small 10000] [--requests 300]

SQLite (synchronous=FULL, the default), two files seeded with ``demo-seed``: one holding
``--small`` records, one ``--big`` (bulk-inserted rows shaped like real ones: random
``scope_hash``, a small body, expiry a day ahead). Part 1, in-process (test client): first
requests and replays are sent to both apps in a fresh random order, each timed alone
(``perf_counter_ns``); ratio = median on the big file / median on the small one.
Part 2, the write stall: every big-file record but the replayed one is moved into the past,
then ``flask idempotency purge`` runs in a separate process while this process sends
unkeyed ``POST /api/v1/tickets`` back to back; the stall is the writer's longest latency during
the purge minus its longest latency over as many requests without a purge, in the same run.
Beside it, the writer's longest wait for the write lock (its ``BEGIN IMMEDIATE``), which CPU
contention on a busy machine disturbs far less than whole-request latencies.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event

from league_api import create_app
from league_api.db import db

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
BODY = json.dumps(TICKET).encode()
PATH = "/api/v1/tickets"


def build(path: Path, records: int):
    url = f"sqlite:///{path}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False})
    keys = json.loads(app.test_cli_runner().invoke(args=["demo-seed"]).stdout)["keys"]
    connection = sqlite3.connect(path)
    rows = (
        (secrets.token_hex(32), "bench", secrets.token_hex(32), 201, "{}", b"{}")
        for _ in range(records)
    )
    with connection:
        connection.executemany(
            "INSERT INTO idempotency_records (scope_hash, caller, fingerprint, status_code,"
            " headers, body, expires_at) VALUES (?, ?, ?, ?, ?, ?,"
            " strftime('%Y-%m-%d %H:%M:%f000', 'now', '+1 day'))",
            rows,
        )
    connection.close()
    return app, url, {"Authorization": f"Bearer {keys['alice']}"}


def post(client, auth, key=None):
    headers = {**auth, "Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    start = time.perf_counter_ns()
    response = client.post(PATH, data=BODY, headers=headers)
    elapsed = time.perf_counter_ns() - start
    assert response.status_code == 201, response.data
    return elapsed


def sizes(small, big, requests: int) -> dict[str, float]:
    clients = {"small": small, "big": big}
    for app, auth in clients.values():
        post(app.test_client(), auth, "stored")
    samples: dict[tuple[str, str], list[int]] = {}
    counter = iter(range(10**9))
    jobs = [(size, kind) for size in clients for kind in ("first", "replay")]
    for _ in range(requests):
        random.shuffle(jobs)
        for size, kind in jobs:
            app, auth = clients[size]
            key = f"new-{next(counter)}" if kind == "first" else "stored"
            samples.setdefault((size, kind), []).append(post(app.test_client(), auth, key))
    result = {}
    for kind in ("first", "replay"):
        small_us = statistics.median(samples[("small", kind)]) / 1000
        big_us = statistics.median(samples[("big", kind)]) / 1000
        result[kind] = {"small_us": small_us, "big_us": big_us, "ratio": big_us / small_us}
    return result


def longest(client, auth, stop, waits: list[int]) -> tuple[float, int, float, float, float]:
    """The writer's longest latency (ms), its request count, its p99, its longest and p99 lock
    wait (ms)."""
    latencies: list[int] = []
    waits.clear()
    while not stop(len(latencies)):
        latencies.append(post(client, auth))
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)] / 1e6
    waits.sort()
    wait_p99 = waits[int(len(waits) * 0.99)] / 1e6
    return latencies[-1] / 1e6, len(latencies), p99, waits[-1] / 1e6, wait_p99


def time_lock_waits(app, waits: list[int]) -> None:
    """Append the duration of each ``BEGIN IMMEDIATE`` of ``app``'s engine to ``waits`` (ns)."""
    with app.app_context():
        engine = db.engine
    started: dict[int, int] = {}

    @event.listens_for(engine, "before_cursor_execute")
    def before(_conn, cursor, statement, *_args):
        if statement == "BEGIN IMMEDIATE":
            started[id(cursor)] = time.perf_counter_ns()

    @event.listens_for(engine, "after_cursor_execute")
    def after(_conn, cursor, statement, *_args):
        if statement == "BEGIN IMMEDIATE":
            waits.append(time.perf_counter_ns() - started.pop(id(cursor)))


def stall(app, url: str, auth, purge_args: list[str]) -> dict[str, float]:
    path = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "UPDATE idempotency_records SET expires_at = '2000-01-01 00:00:00.000000'"
            " WHERE caller = 'bench'"
        )
        expired = connection.execute("SELECT count(*) FROM idempotency_records").fetchone()[0]
    connection.close()
    client = app.test_client()
    waits: list[int] = []
    time_lock_waits(app, waits)
    for _ in range(20):
        post(client, auth)
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url}
    started = time.monotonic()
    purge = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "league_api", "idempotency", "purge", *purge_args],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    during, count, during_p99, during_wait, during_wait_p99 = longest(
        client, auth, lambda _n: purge.poll() is not None, waits
    )
    purge_seconds = time.monotonic() - started
    output = purge.communicate()[0].strip()
    without, _, without_p99, without_wait, without_wait_p99 = longest(
        client, auth, lambda n: n >= count, waits
    )
    return {
        "records": expired,
        "purge_seconds": purge_seconds,
        "purge_output": output,
        "writer_requests": count,
        "longest_during_ms": during,
        "longest_without_ms": without,
        "stall_ms": during - without,
        "p99_during_ms": during_p99,
        "p99_without_ms": without_p99,
        "longest_lock_wait_during_ms": during_wait,
        "longest_lock_wait_without_ms": without_wait,
        "p99_lock_wait_during_ms": during_wait_p99,
        "p99_lock_wait_without_ms": without_wait_p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--purge-args", default="", help="extra options for the purge command")
    parser.add_argument("--no-sizes", action="store_true", help="only the purge's stall")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="league-records-"))
    started = time.monotonic()
    small_app, _, small_auth = build(workdir / "small.sqlite", options.small)
    big_app, big_url, big_auth = build(workdir / "big.sqlite", options.big)
    print(f"filled in {time.monotonic() - started:.0f}s", file=sys.stderr)
    result = {
        "load_before": os.getloadavg(),
        "sizes": None
        if options.no_sizes
        else sizes((small_app, small_auth), (big_app, big_auth), options.requests),
        "stall": stall(big_app, big_url, big_auth, options.purge_args.split()),
        "load_after": os.getloadavg(),
    }
    print(json.dumps(result, indent=1))
    if options.json:
        Path(options.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
