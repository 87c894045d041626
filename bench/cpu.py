"""CPU per request, in-process (Flask test client), against release 0.1.0 and the bare-Flask floor.

    .venv/bin/python bench/cpu.py [--rounds 3] [--requests 300] [--v010 DIR] [--write]

``--v010 DIR`` is a checkout of release 0.1.0 (``git archive 3b87575 | tar -x -C DIR``); it is
imported from DIR by a worker process running this venv (0.1.0 needs nothing more). Each round
runs one worker per code base, in a fresh random order, each on a fresh SQLite file
(synchronous=NORMAL) seeded with ``demo-seed``; inside a worker every request kind gets one
request at a time in a fresh random order, timed alone with ``process_time_ns``. A round's figure
per kind is the median over its requests; the table gives the median over rounds.

Kinds (today's code): ``unkeyed`` (POST /api/v1/tickets, no key, rate limiter off, the outbox
on: the request emits ``ticket.created`` with no subscription), ``first`` (a fresh key),
``replay`` (a stored key), ``limiter`` (unkeyed on an app of its own with the rate limiter on,
compared with ``limiter-off``, another app built alike with it off; in-process windows,
quotas out of reach), ``no-outbox`` (unkeyed with ``emit`` replaced by a no-op for that request
only: the outbox's cost is ``unkeyed`` minus this), ``no-fan-out-query`` (unkeyed, the event
written but the live-subscriptions query at commit replaced by an empty answer: its share of the
outbox's cost) and ``bare`` (bench/bare_app.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
OUT_OF_REACH = "1000000000/second;1000000000/minute"
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
BODY = json.dumps(TICKET).encode()
PATH = "/api/v1/tickets"


def _import_from(source: str | None) -> None:
    if source is None:
        return
    # The venv's editable install of today's code would win over sys.path: drop its finder.
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
    sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in getattr(f, "__module__", "")]
    sys.path.insert(0, source)


def worker(source: str | None, requests: int) -> dict[str, list[int]]:
    _import_from(source)
    from league_api import create_app

    workdir = Path(tempfile.mkdtemp(prefix="league-cpu-"))
    url = f"sqlite:///{workdir / 'cpu.sqlite'}"
    common = {"SQLALCHEMY_DATABASE_URI": url, "SQLITE_SYNCHRONOUS": "NORMAL"}
    app = create_app({**common, "RATELIMIT_ENABLED": False})
    result = app.test_cli_runner().invoke(args=["demo-seed"])
    keys = json.loads(result.stdout)["keys"]
    auth = {"Authorization": f"Bearer {keys['alice']}", "Content-Type": "application/json"}
    client = app.test_client()
    calls = {}
    counter = iter(range(10**9))
    calls["unkeyed"] = lambda: client.post(PATH, data=BODY, headers=auth)
    calls["first"] = lambda: client.post(
        PATH, data=BODY, headers={**auth, "Idempotency-Key": f"k-{next(counter)}"}
    )
    calls["replay"] = lambda: client.post(
        PATH, data=BODY, headers={**auth, "Idempotency-Key": "stored"}
    )
    if source is None:
        from bare_app import create_bare_app

        from league_api.domain import tickets as ticket_domain

        limited = create_app(
            {**common, "RATELIMIT_IP": OUT_OF_REACH, "RATELIMIT_KEY": OUT_OF_REACH}
        ).test_client()
        calls["limiter"] = lambda: limited.post(PATH, data=BODY, headers=auth)
        # Its like-for-like baseline: a second app built the same way with the limiter off, so
        # the difference holds nothing but the limiter (not a colder app of its own).
        unlimited = create_app({**common, "RATELIMIT_ENABLED": False}).test_client()
        calls["limiter-off"] = lambda: unlimited.post(PATH, data=BODY, headers=auth)
        emit = ticket_domain.emit

        def no_outbox():
            ticket_domain.emit = lambda *_a, **_k: None
            try:
                return client.post(PATH, data=BODY, headers=auth)
            finally:
                ticket_domain.emit = emit

        calls["no-outbox"] = no_outbox
        from league_api.webhooks import outbox

        live = outbox._live_subscriptions

        def no_fan_out_query():
            outbox._live_subscriptions = lambda _session: []
            try:
                return client.post(PATH, data=BODY, headers=auth)
            finally:
                outbox._live_subscriptions = live

        calls["no-fan-out-query"] = no_fan_out_query
        bare = create_bare_app().test_client()
        calls["bare"] = lambda: bare.post(PATH, data=BODY, headers=auth)
    for _ in range(30):  # warm-up
        for call in calls.values():
            call()
    samples: dict[str, list[int]] = {name: [] for name in calls}
    names = list(calls)
    gc.collect()
    for _ in range(requests):
        random.shuffle(names)
        for name in names:
            start = time.process_time_ns()
            response = calls[name]()
            samples[name].append(time.process_time_ns() - start)
            assert response.status_code == 201, (name, response.status_code, response.data)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--v010", help="a checkout of release 0.1.0")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="write the medians here")
    options = parser.parse_args()
    if options.worker:
        sys.path.insert(0, str(BENCH_DIR))
        print(json.dumps(worker(options.source, options.requests)))
        return
    bases = {"today": None}
    if options.v010:
        bases["0.1.0"] = options.v010
    rounds: list[dict[str, dict[str, float]]] = []
    for number in range(options.rounds):
        order = list(bases)
        random.shuffle(order)
        found: dict[str, dict[str, float]] = {}
        for base in order:
            command = [sys.executable, __file__, "--worker", "--requests", str(options.requests)]
            if bases[base]:
                command += ["--source", bases[base]]
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            samples = json.loads(output)
            found[base] = {name: statistics.median(v) / 1000 for name, v in samples.items()}
        rounds.append(found)
        print(f"round {number + 1}: {json.dumps(found)}", file=sys.stderr)
    summary = summarise(rounds)
    print(render(summary, options))
    if options.json:
        Path(options.json).write_text(json.dumps({"rounds": rounds, "summary": summary}, indent=1))


def summarise(rounds: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    def med(values):
        return statistics.median(values)

    today = [r["today"] for r in rounds]
    out = {f"today {k} us": med([r[k] for r in today]) for k in today[0]}
    out["first/unkeyed"] = med([r["first"] / r["unkeyed"] for r in today])
    out["replay/unkeyed"] = med([r["replay"] / r["unkeyed"] for r in today])
    out["unkeyed/bare"] = med([r["unkeyed"] / r["bare"] for r in today])
    out["limiter added us"] = med([r["limiter"] - r["limiter-off"] for r in today])
    out["outbox added us"] = med([r["unkeyed"] - r["no-outbox"] for r in today])
    out["outbox subscriptions query us"] = med(
        [r["unkeyed"] - r["no-fan-out-query"] for r in today]
    )
    if "0.1.0" in rounds[0]:
        old = [r["0.1.0"] for r in rounds]
        out |= {f"0.1.0 {k} us": med([r[k] for r in old]) for k in old[0]}
        out["0.1.0 first/unkeyed"] = med([r["first"] / r["unkeyed"] for r in old])
        out["0.1.0 replay/unkeyed"] = med([r["replay"] / r["unkeyed"] for r in old])
        out["0.1.0 unkeyed/bare"] = med(
            [o["unkeyed"] / t["bare"] for o, t in zip(old, today, strict=True)]
        )
    return out


def render(summary: dict[str, float], options) -> str:
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"CPU per request (process_time), medians of {options.rounds} rounds x "
        f"{options.requests} requests per kind; load average {load} (2 cores, shared).",
        "",
        "| request | today | 0.1.0 |",
        "|---|---:|---:|",
    ]
    for kind in ("unkeyed", "first", "replay"):
        old = summary.get(f"0.1.0 {kind} us")
        old_text = f"{old:.0f} us" if old is not None else "-"
        lines.append(f"| {kind} | {summary[f'today {kind} us']:.0f} us | {old_text} |")
    lines.append(f"| bare-Flask floor | {summary['today bare us']:.0f} us | |")
    lines += [
        "",
        "| ratio (CPU) | today | 0.1.0 | target |",
        "|---|---:|---:|---:|",
    ]
    for name, target in (
        ("first/unkeyed", "<= 1.10"),
        ("replay/unkeyed", "<= 0.35"),
        ("unkeyed/bare", "<= 3"),
    ):
        old = summary.get(f"0.1.0 {name}")
        old_text = f"{old:.2f}x" if old is not None else "-"
        lines.append(f"| {name} | {summary[name]:.2f}x | {old_text} | {target} |")
    lines += [
        "",
        f"Rate limiter on vs off (unkeyed): {summary['limiter added us']:+.0f} us; "
        f"outbox (emit with no subscription vs no emit): {summary['outbox added us']:+.0f} us "
        "(budget 50 us each); of the outbox's cost, the live-subscriptions query at commit: "
        f"{summary['outbox subscriptions query us']:+.0f} us, the rest is the event row "
        "(built, added, flushed as one INSERT).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
