"""What the rate limiter adds per request, in CPU time, with in-process (memory://) counting.

    python bench/ratelimit.py            # about a minute: prints the table
    python bench/ratelimit.py --write    # ... and rewrites its block in docs/BENCHMARK.md

Two apps built by ``create_app`` as production builds them, on one SQLite file: one with the
rate limiter on (the default: two windows per address and two per key, limits set out of reach
so that every request is counted and answered normally), one with ``RATELIMIT_ENABLED`` off.
Requests alternate between them in a fresh random order within each round; each is timed alone
by this process's CPU time. The figure is the median over rounds of (median with limiter -
median without) and the ratio of those medians. The limiter's own steps are also timed alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from common import BODY, PATH, REPO_DIR, quartiles

from league_api import create_app, ratelimit
from league_api.db import db

DOC = REPO_DIR / "docs" / "BENCHMARK.md"
START, END = "<!-- bench:ratelimit:start -->", "<!-- bench:ratelimit:end -->"
OUT_OF_REACH = "1000000000/second;1000000000/minute"  # two windows, as the defaults
BUDGET_US = 50.0


def make(url: str, enabled: bool):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLITE_SYNCHRONOUS": "NORMAL",
            "RATELIMIT_ENABLED": enabled,
            "RATELIMIT_IP": OUT_OF_REACH,
            "RATELIMIT_KEY": OUT_OF_REACH,
        }
    )


def requests_for(world: dict) -> dict[str, tuple[str, dict]]:
    auth = {"Authorization": f"Bearer {world['keys']['alice']}"}
    return {
        "GET /api/v1/tickets": ("GET", {"headers": auth}),
        "POST /api/v1/tickets (no key)": (
            "POST",
            {"headers": auth, "data": BODY, "content_type": "application/json"},
        ),
        "GET /api/v1/openapi.json (no auth)": ("GET", {}),
    }


def path_of(name: str) -> str:
    return name.split()[1]


def measure(rounds: int, batch: int, warmup: int, seed: int = 20261130) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="league-ratelimit-bench-"))
    url = f"sqlite:///{workdir / 'bench.sqlite'}"
    apps = {True: make(url, True), False: make(url, False)}
    seeded = apps[True].test_cli_runner().invoke(args=["demo-seed"])
    world = json.loads(seeded.stdout)
    clients = {enabled: app.test_client() for enabled, app in apps.items()}
    kinds = requests_for(world)
    assert PATH == "/api/v1/tickets"

    def send(name: str, enabled: bool) -> None:
        method, kwargs = kinds[name]
        response = clients[enabled].open(path_of(name), method=method, **kwargs)
        status = response.status_code
        response.close()
        if status >= 300:
            raise RuntimeError(f"{name}: {status}")
        if enabled != ("RateLimit" in response.headers):
            raise RuntimeError("the limiter was not where it should be")

    for name in kinds:
        for enabled in (True, False):
            for _ in range(warmup):
                send(name, enabled)
    rng = random.Random(seed)
    samples = {(name, on): [] for name in kinds for on in (True, False)}
    cpu = time.process_time_ns
    for _ in range(rounds):
        gc.collect()
        times = {key: [] for key in samples}
        for _ in range(batch):
            order = [(name, on) for name in kinds for on in (True, False)]
            rng.shuffle(order)
            for name, on in order:
                started = cpu()
                send(name, on)
                times[(name, on)].append(cpu() - started)
        for key, values in times.items():
            samples[key].append(statistics.median(values))
    rows = []
    for name in kinds:
        on, off = samples[(name, True)], samples[(name, False)]
        added = [(a - b) / 1000 for a, b in zip(on, off, strict=True)]
        ratios = [a / b for a, b in zip(on, off, strict=True)]
        rows.append(
            {
                "request": name,
                "off_us": statistics.median(off) / 1000,
                "on_us": statistics.median(on) / 1000,
                "added_us": statistics.median(added),
                "added_iqr": list(quartiles(added)),
                "ratio": statistics.median(ratios),
            }
        )
    parts = measure_parts(apps[True])
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()
    return {"rows": rows, "parts": parts, "rounds": rounds, "batch": batch}


def measure_parts(app, count: int = 20000) -> dict[str, float]:
    """The limiter's steps alone, in a request context: CPU us per call (median of 5 runs)."""
    limiter = app.extensions[ratelimit.EXTENSION]
    results: dict[str, list[float]] = {"address: 2 windows": [], "key: 2 windows": []}
    results["headers: both dialects, 4 windows"] = []
    with app.test_request_context("/api/v1/tickets"):
        from flask import Response, g

        for _ in range(5):
            started = time.process_time_ns()
            for _ in range(count):
                g.pop("ratelimit", None)
                ratelimit.check_address()
            results["address: 2 windows"].append((time.process_time_ns() - started) / count)
            started = time.process_time_ns()
            for _ in range(count):
                ratelimit.check_key("bench-key-id")
            results["key: 2 windows"].append((time.process_time_ns() - started) / count)
            g.ratelimit = g.ratelimit[:4]
            response = Response()
            started = time.process_time_ns()
            for _ in range(count):
                ratelimit.add_headers(response)
            results["headers: both dialects, 4 windows"].append(
                (time.process_time_ns() - started) / count
            )
    assert limiter.counter.per_process
    return {name: statistics.median(values) / 1000 for name, values in results.items()}


def render(report: dict) -> str:
    lines = [
        f"Last run: {report['date']}, load average {report['load']} (2 cores, shared).",
        "",
        f"In-process, SQLite (`synchronous=NORMAL`), {report['rounds']} rounds x "
        f"{report['batch']} requests per request kind and setting, interleaved; CPU time of this "
        "process. Budget: 50 us added per request.",
        "",
        "| request | limiter off | limiter on | added CPU (median, IQR over rounds) | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        low, high = row["added_iqr"]
        lines.append(
            f"| {row['request']} | {row['off_us']:.0f} us | {row['on_us']:.0f} us "
            f"| **{row['added_us']:+.1f} us** ({low:+.1f} to {high:+.1f}) | {row['ratio']:.3f}x |"
        )
    lines += ["", "The limiter's steps alone (CPU per call):", "", "| step | CPU |", "|---|---:|"]
    lines += [f"| {name} | {value:.1f} us |" for name, value in report["parts"].items()]
    total = sum(report["parts"].values())
    lines += ["", f"Sum of the steps for an authenticated request: **{total:.1f} us**."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--write", action="store_true", help="rewrite the block in the doc")
    args = parser.parse_args()
    load = " ".join(f"{value:.1f}" for value in os.getloadavg())
    report = measure(args.rounds, args.batch, args.warmup)
    report["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report["load"] = load
    text = render(report)
    print(text)
    over = [row for row in report["rows"] if row["added_us"] > BUDGET_US]
    if args.write:
        doc = DOC.read_text()
        before, rest = doc.split(START, 1)
        _, after = rest.split(END, 1)
        DOC.write_text(f"{before}{START}\n{text}{END}{after}")
    if over:
        sys.exit(f"over the {BUDGET_US:.0f} us budget: {[row['request'] for row in over]}")


if __name__ == "__main__":
    main()
