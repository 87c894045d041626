"""Benchmark of the idempotency layer on POST /api/v1/tickets: ratios to a same-run baseline.

    python bench/run.py --quick                       # a smoke run: prints, writes nothing
    python bench/run.py --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/DB
                                                      # the full run (3 runs): writes the doc

The PostgreSQL database named by --pg-url is emptied (its public schema is dropped). See
bench/README.md for the method and docs/BENCHMARK.md for the last results.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import compare
import inprocess
import parts
import server
import targets
from common import FLOOR_LAYERS, REPO_DIR, Backend, make_backends, quartiles, summary
from sqlalchemy import create_engine

DOC = REPO_DIR / "docs" / "BENCHMARK.md"
RESULTS_JSON = Path(__file__).resolve().parent / "results.json"
START, END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"
LABELS = {
    "baseline": "baseline: no Idempotency-Key",
    "league:first": "league_api, first request (fresh key)",
    "league:replay": "league_api, replay of a stored key",
    "league:conflict": "league_api, conflict (same key, other body)",
    "idemkit-redis:first": "idemkit + Redis, first request",
    "idemkit-redis:replay": "idemkit + Redis, replay",
    "idemkit-redis:conflict": "idemkit + Redis, conflict",
    "idemkit-pg:first": "idemkit + PostgreSQL, first request",
    "idemkit-pg:replay": "idemkit + PostgreSQL, replay",
    "idemkit-pg:conflict": "idemkit + PostgreSQL, conflict",
    "floor-flask:answer": "floor: bare Flask view (parses the body, answers the JSON)",
    "floor-wsgi:answer": "floor: bare WSGI callable (reads the body, answers stored bytes)",
    "floor-lean:replay": "floor: lean replay, no Flask (key row, record row, stored answer)",
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run")
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help="whole measurements in a row, reported as medians (default: 3, 1 with --quick)",
    )
    parser.add_argument(
        "--backends",
        default=None,
        help="comma list of sqlite-full, sqlite-normal, postgres (default: all available)",
    )
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("LEAGUE_BENCH_POSTGRES_URL"),
        help="SQLAlchemy URL of a PostgreSQL database the bench may EMPTY (drops its schema)",
    )
    parser.add_argument("--no-inprocess", action="store_true", help="skip the test-client part")
    parser.add_argument("--no-server", action="store_true", help="skip the gunicorn part")
    parser.add_argument("--no-compare", action="store_true", help="skip other libraries")
    parser.add_argument(
        "--install", action="store_true", help="pip install the comparison library into bench/.deps"
    )
    parser.add_argument(
        "--write",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="write docs/BENCHMARK.md and bench/results.json (default: yes, no with --quick)",
    )
    parser.add_argument("--workdir", help="where the SQLite files go (default: a temp dir)")
    return parser.parse_args()


def plans(quick: bool) -> tuple[inprocess.Plan, server.LoadPlan]:
    if quick:
        return (
            inprocess.Plan(rounds=4, batch=10, warmup=10, stored=10),
            server.LoadPlan(rounds=1, per_thread=8, warmup_per_thread=2, stored=8),
        )
    return (
        inprocess.Plan(rounds=25, batch=40, warmup=60),
        server.LoadPlan(rounds=8, per_thread=20, warmup_per_thread=5),
    )


# -- reporting --------------------------------------------------------------------------------


def flatten(rounds: list[list[int]]) -> list[int]:
    return [value for values in rounds for value in values]


def round_ratios(kind_rounds: list[list[int]], base_rounds: list[list[int]]) -> list[float]:
    """Per round: the kind's median over the baseline's median in that same round."""
    return [
        statistics.median(mine) / statistics.median(theirs)
        for mine, theirs in zip(kind_rounds, base_rounds, strict=True)
    ]


def inprocess_rows(result: inprocess.Result) -> list[dict[str, Any]]:
    base = summary(flatten(result.samples["baseline"]))
    rows = []
    for kind in result.kinds:
        stats = summary(flatten(result.samples[kind.name]))
        cpu = summary(flatten(result.cpu_samples[kind.name]))
        ratios = round_ratios(result.samples[kind.name], result.samples["baseline"])
        cpu_ratios = round_ratios(result.cpu_samples[kind.name], result.cpu_samples["baseline"])
        statements = result.statements.get(kind.name, {})
        rows.append(
            {
                "kind": kind.name,
                "median_us": stats["median"] / 1000,
                "p90_us": stats["p90"] / 1000,
                "p99_us": stats["p99"] / 1000,
                "cpu_median_us": cpu["median"] / 1000,
                "n": stats["n"],
                "ratio": statistics.median(ratios),
                "ratio_iqr": list(quartiles(ratios)),
                "cpu_ratio": statistics.median(cpu_ratios),
                "cpu_ratio_iqr": list(quartiles(cpu_ratios)),
                "added_us": (stats["median"] - base["median"]) / 1000,
                "statements": statements.get("statements"),
                "commits": statements.get("commits"),
                "sequence": statements.get("sequence"),
                "store_calls": result.store_calls.get(kind.name),
            }
        )
    return rows


def server_rows(result: server.LoadResult) -> list[dict[str, Any]]:
    def totals(name: str) -> tuple[float, dict[str, float]]:
        phases = result.phases[name]
        count = sum(len(phase.latencies_ns) for phase in phases)
        seconds = sum(phase.seconds for phase in phases)
        latencies = [value for phase in phases for value in phase.latencies_ns]
        return count / seconds, summary(latencies)

    base_rps, base = totals("baseline")
    problems = server.unexpected(result)
    rows = []
    for kind in result.kinds:
        rps, stats = totals(kind.name)
        per_round = [
            mine.throughput / theirs.throughput
            for mine, theirs in zip(
                result.phases[kind.name], result.phases["baseline"], strict=True
            )
        ]
        low, high = quartiles(per_round)
        rows.append(
            {
                "kind": kind.name,
                "rps": rps,
                "rps_ratio": statistics.median(per_round),
                "rps_ratio_range": [low, high],
                "p50_ms": stats["median"] / 1e6,
                "p90_ms": stats["p90"] / 1e6,
                "p99_ms": stats["p99"] / 1e6,
                "p50_ratio": stats["median"] / base["median"],
                "n": stats["n"],
                "problems": problems.get(kind.name),
            }
        )
    return rows


# -- several runs: medians --------------------------------------------------------------------

# The ratios whose values in every run are kept beside their median (the tables show min-max).
SPREAD_FIELDS = ("ratio", "cpu_ratio", "rps_ratio")


def add_problems(problems: list[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Transport errors and unexpected statuses of one kind, added up over the runs."""
    errors, statuses = 0, {}
    for problem in filter(None, problems):
        errors += problem["errors"]
        for status, count in problem["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {"errors": errors, "statuses": statuses} if errors or statuses else None


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One kind's row over the runs, shaped as one run's.

    Every measured figure (a float, or a pair of floats such as an IQR) is the median of the
    runs' figures: a ratio is the median of the runs' ratios, each to its own run's baseline.
    Sample and error counts add up. What describes the request (kind, SQL) is the same in every
    run and taken from the first.
    """
    combined = dict(rows[0])
    for key, first in rows[0].items():
        values = [row[key] for row in rows]
        if key == "n":
            combined[key] = sum(values)
        elif key == "problems":
            combined[key] = add_problems(values)
        elif isinstance(first, float):
            combined[key] = statistics.median(values)
            if key in SPREAD_FIELDS:
                combined[f"{key}_runs"] = values
        elif isinstance(first, list) and first and isinstance(first[0], float):
            combined[key] = [statistics.median(bound) for bound in zip(*values, strict=True)]
    return combined


def combine(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every backend's part over all runs: one row per kind, of medians (``median_row``)."""
    combined: dict[str, dict[str, Any]] = {}
    for name, first in runs[0]["backends"].items():
        measured = [run["backends"][name] for run in runs]
        part: dict[str, Any] = {"label": first["label"]}
        for section in ("inprocess", "server"):
            if section in first:
                per_kind = zip(*(run_part[section] for run_part in measured), strict=True)
                part[section] = [median_row(list(rows)) for rows in per_kind]
        if "parts" in first:
            part["parts"] = {
                step: statistics.median(run_part["parts"][step] for run_part in measured)
                for step in first["parts"]
            }
        combined[name] = part
    return combined


# -- tables -----------------------------------------------------------------------------------


def fmt(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def spread(row: dict[str, Any], field: str) -> str:
    """Min-max of a ratio over the runs, in brackets (nothing after a single run)."""
    runs = row.get(f"{field}_runs") or []
    return f" ({fmt(min(runs))}-{fmt(max(runs))})" if len(runs) > 1 else ""


def problem_count(problem: dict[str, Any] | None) -> int:
    return problem["errors"] + sum(problem["statuses"].values()) if problem else 0


def inprocess_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| request | time ratio | (IQR over rounds) | CPU ratio | added | median | p90 | p99 "
        "| CPU median | SQL statements | commits |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        low, high = row["ratio_iqr"]
        lines.append(
            f"| {LABELS.get(row['kind'], row['kind'])} | **{fmt(row['ratio'])}x** "
            f"| {fmt(low)}-{fmt(high)} | {fmt(row['cpu_ratio'])}x | {row['added_us']:+.0f} us "
            f"| {row['median_us']:.0f} us | {row['p90_us']:.0f} us | {row['p99_us']:.0f} us "
            f"| {row['cpu_median_us']:.0f} us | {_count(row['statements'])} "
            f"| {_count(row['commits'])} |"
        )
    return lines


def server_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| request | throughput ratio | per-round (IQR) | req/s | p50 latency ratio | p50 | p90 "
        "| p99 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        low, high = row["rps_ratio_range"]
        lines.append(
            f"| {LABELS.get(row['kind'], row['kind'])} | **{fmt(row['rps_ratio'])}x** "
            f"| {fmt(low)}-{fmt(high)} | {row['rps']:.0f} | {fmt(row['p50_ratio'])}x "
            f"| {fmt(row['p50_ms'], 1)} ms | {fmt(row['p90_ms'], 1)} ms "
            f"| {fmt(row['p99_ms'], 1)} ms | {problem_count(row['problems'])} |"
        )
    return lines


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def statements_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| request | statements on the app's database, in order | other store |",
        "|---|---|---|",
    ]
    for row in rows:
        if row["kind"].partition(":")[0] in FLOOR_LAYERS:
            continue  # no SQLAlchemy engine to count on
        sequence = " · ".join(row["sequence"] or [])
        store = row["store_calls"]
        other = ", ".join(f"{name} x{count}" for name, count in store.items()) if store else ""
        lines.append(f"| {LABELS.get(row['kind'], row['kind'])} | {sequence} | {other} |")
    return lines


def headline(report: dict[str, Any]) -> list[str]:
    lines = [
        "| database | first request | replay | conflict | first request under load (throughput) |",
        "|---|---:|---:|---:|---:|",
    ]
    for part in report["backends"].values():
        rows = {row["kind"]: row for row in part.get("inprocess", [])}
        loaded = {row["kind"]: row for row in part.get("server", [])}

        def cell(kind: str, rows: dict[str, Any] = rows) -> str:
            if kind not in rows:
                return "n/a"
            row = rows[kind]
            return (
                f"{fmt(row['ratio'])}x{spread(row, 'ratio')}; "
                f"CPU {fmt(row['cpu_ratio'])}x{spread(row, 'cpu_ratio')}"
            )

        under_load = "n/a"
        if "league:first" in loaded:
            row = loaded["league:first"]
            under_load = f"{fmt(row['rps_ratio'])}x{spread(row, 'rps_ratio')}"
        lines.append(
            f"| {part['label']} | {cell('league:first')} | {cell('league:replay')} "
            f"| {cell('league:conflict')} | {under_load} |"
        )
    return lines


def targets_table(report: dict[str, Any]) -> list[str]:
    lines = [
        "| issue 11 target | database | value | min-max over runs | target | met "
        "| floors: bare Flask / bare WSGI / lean replay |",
        "|---|---|---:|---:|---:|:---:|---:|",
    ]
    for result in targets.evaluate(report):
        runs = result["runs"]
        limit = f"{'<=' if result['at_most'] else '>='} {fmt(result['limit'])}x"
        over_runs = f"{fmt(min(runs))}-{fmt(max(runs))}" if len(runs) > 1 else "one run"
        floor = result["floors"]
        floor_text = " / ".join(f"{fmt(floor[layer])}x" for layer in FLOOR_LAYERS if layer in floor)
        lines.append(
            f"| {result['target']} | {result['label']} | **{fmt(result['value'])}x** "
            f"| {over_runs} | {limit} "
            f"| {'yes' if result['met'] else '**no**'} | {floor_text or '-'} |"
        )
    return lines


def runs_note(runs: list[dict[str, Any]]) -> str:
    durations = " / ".join(f"{run['seconds']:.0f}" for run in runs)
    if len(runs) == 1:
        return f"One run ({durations} s): every figure is that run's."
    loads = " / ".join(run["load_before"].split()[0] for run in runs)
    return (
        f"{len(runs)} runs one after the other, each a whole measurement on fresh databases "
        f"({durations} s; load average before each: {loads}). Every figure is the median over "
        "the runs of that run's figure: a ratio, of the runs' ratios (each to its own run's "
        "baseline); an absolute time, of the runs' medians; an IQR, of the runs' quartiles. "
        "In brackets beside a headline ratio: its min-max over the runs."
    )


def render(report: dict[str, Any]) -> str:
    env = report["environment"]
    inproc, load = report["plans"]["inprocess"], report["plans"]["server"]
    out = [
        f"Last run: {env['date']} (commit `{env['commit']}`), `{env['command']}`.",
        "",
        f"Machine: {env['cpus']} cores ({env['cpu']}), {env['memory']}, Linux {env['kernel']}; "
        f"Python {env['python']}, SQLite {env['sqlite']}, {env['postgres']}; "
        f"{env['versions']}. Load average before / after: {env['load_before']} / "
        f"{env['load_after']} (other work shares this machine: read the ratios, not the "
        "absolute times).",
        "",
        f"In-process: {inproc['rounds']} rounds x {inproc['batch']} requests per kind, "
        f"after {inproc['warmup']} warm-up requests per kind. Server: gunicorn "
        f"{load['workers']} sync workers, {load['concurrency']} concurrent loopback clients "
        f"({load['processes']} processes x {load['threads']} threads), {load['rounds']} rounds "
        f"x {load['per_thread'] * load['concurrency']} requests per kind.",
        "",
        runs_note(report["runs"]),
        "",
        "### Issue 11 targets",
        "",
        "Ratios to the unkeyed request (in-process: time; under load: throughput). The floors "
        "are the same ratio for an answer that does no work of its own, in the same harness and "
        "run: a bare Flask view that parses the body and answers the JSON, and a bare WSGI "
        "callable that reads the body and answers fixed bytes, and a lean replay: a bare WSGI "
        "callable that does only what no replay can skip (the key's row, the scope and the "
        "fingerprint, the record's row, its stored answer; `bench/lean_replay.py`). No replay "
        "can do better than the WSGI floor.",
        "",
        *targets_table(report),
        "",
        "### Headline: league_api's keyed requests against the unkeyed baseline",
        "",
        "In-process time ratio; CPU-time ratio; under load, throughput ratio "
        "(1.00x = as fast as the unkeyed request; below 1 in-process = faster, "
        "above 1 under load = more requests per second).",
        "",
        *headline(report),
    ]
    for part in report["backends"].values():
        out += ["", f"### {part['label']}", ""]
        if "inprocess" in part:
            out += ["In-process (Flask test client), per request:", ""]
            out += inprocess_table(part["inprocess"])
            out += ["", "SQL per request kind (counted with `before_cursor_execute`):", ""]
            out += statements_table(part["inprocess"])
        if "server" in part:
            out += ["", "Through gunicorn under concurrent load:", ""]
            out += server_table(part["server"])
        if "parts" in part:
            out += ["", "Single steps of the keyed path (median, in-process):", ""]
            out += ["| step | median |", "|---|---:|"]
            out += [f"| {name} | {value:.0f} us |" for name, value in part["parts"].items()]
    if report.get("notes"):
        out += ["", *[f"- {note}" for note in report["notes"]]]
    return "\n".join(out) + "\n"


def print_report(report: dict[str, Any]) -> None:
    print()
    print(render(report))


def write_doc(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else ""
    if START not in doc or END not in doc:
        raise SystemExit(f"{DOC} lacks the {START} ... {END} markers")
    before, rest = doc.split(START, 1)
    _, after = rest.split(END, 1)
    DOC.write_text(f"{before}{START}\n{text}{END}{after}")


# -- environment ------------------------------------------------------------------------------


def environment(args: argparse.Namespace, pg_url: str | None, compare_note: str) -> dict:
    def run(command: list[str]) -> str:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, check=True, cwd=REPO_DIR
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "?"

    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    postgres = "PostgreSQL not measured"
    if pg_url:
        engine = create_engine(pg_url)
        with engine.connect() as connection:
            postgres = connection.exec_driver_sql("SHOW server_version").scalar()
            postgres = f"PostgreSQL {postgres}"
        engine.dispose()
    names = ["flask", "sqlalchemy", "psycopg", "gunicorn"]
    versions = ", ".join(f"{name} {version(name)}" for name in names)
    if compare_note.startswith("idemkit"):
        versions += f", {compare_note}, redis-py {version('redis')}"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": run(["git", "rev-parse", "--short", "HEAD"]),
        "command": "python bench/run.py "
        + " ".join(arg if "://" not in arg else "<url>" for arg in sys.argv[1:]),
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": memory,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "postgres": postgres,
        "versions": versions,
        "load_before": load_average(),
    }


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def measure_run(
    args: argparse.Namespace,
    backends: list[Backend],
    plans: tuple[inprocess.Plan, server.LoadPlan],
    use_compare: bool,
) -> dict[str, Any]:
    """One whole measurement: every backend on a fresh database, a fresh Redis namespace."""
    inproc_plan, load_plan = plans
    tag = f"b{uuid.uuid4().hex[:8]}"
    run: dict[str, Any] = {"load_before": load_average(), "backends": {}}
    run_started = time.monotonic()
    try:
        for backend in backends:
            layers = compare.layers_for(backend.is_postgres) if use_compare else []
            layers += list(FLOOR_LAYERS)
            part: dict[str, Any] = {"label": backend.label}
            run["backends"][backend.name] = part
            if not args.no_inprocess:
                started = time.monotonic()
                print(f"[{backend.name}] in-process ...", flush=True)
                result = inprocess.measure(backend, layers, inproc_plan, tag)
                part["inprocess"] = inprocess_rows(result)
                part["parts"] = parts.measure(backend, 300 if args.quick else 3000)
                print(f"[{backend.name}] in-process done in {time.monotonic() - started:.0f}s")
            if not args.no_server:
                started = time.monotonic()
                print(f"[{backend.name}] gunicorn under load ...", flush=True)
                loaded = server.measure(backend, layers, load_plan, tag)
                part["server"] = server_rows(loaded)
                print(f"[{backend.name}] gunicorn done in {time.monotonic() - started:.0f}s")
    finally:
        if use_compare:
            removed = compare.clear_redis(f"league-bench-{tag}")
            print(f"removed {removed} benchmark keys from Redis")
    run["seconds"] = time.monotonic() - run_started
    run["load_after"] = load_average()
    return run


def main() -> None:
    args = parse_args()
    write = args.write if args.write is not None else not args.quick
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    if runs < 1:
        raise SystemExit("--runs must be at least 1")
    inproc_plan, load_plan = plans(args.quick)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="league-bench-"))
    default = ["sqlite-full", "sqlite-normal"] + (["postgres"] if args.pg_url else [])
    names = args.backends.split(",") if args.backends else default
    backends: list[Backend] = make_backends(names, workdir, args.pg_url)
    use_compare, compare_note = (False, "comparison skipped (--no-compare)")
    if not args.no_compare:
        use_compare, compare_note = compare.available(install=args.install)
    print(f"comparison: {compare_note}", flush=True)
    report: dict[str, Any] = {
        "environment": environment(args, args.pg_url, compare_note),
        "plans": {"inprocess": vars(inproc_plan), "server": vars(load_plan)},
        "backends": {},
        "runs": [],
        "notes": [] if use_compare else [compare_note],
    }
    report["plans"]["server"]["concurrency"] = load_plan.concurrency
    for index in range(1, runs + 1):
        print(f"run {index} of {runs}", flush=True)
        run = measure_run(args, backends, (inproc_plan, load_plan), use_compare)
        report["runs"].append(run)
        print(f"run {index} of {runs} done in {run['seconds']:.0f}s", flush=True)
        print("\n".join(targets_table(run)), flush=True)
    # The reported figures: medians over the runs; every run's own figures stay in "runs".
    report["backends"] = combine(report["runs"])
    report["environment"]["load_after"] = load_average()
    print_report(report)
    if write:
        write_doc(render(report))
        RESULTS_JSON.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"wrote {DOC.relative_to(REPO_DIR)} and {RESULTS_JSON.relative_to(REPO_DIR)}")
        try:
            import chart

            print(f"wrote {chart.draw(report).relative_to(REPO_DIR)}")
        except ImportError as error:
            print(f"no chart ({error}): pip install --target bench/.deps matplotlib")


if __name__ == "__main__":
    main()
