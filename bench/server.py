"""Through a real gunicorn server: concurrent loopback load, interleaved phases per kind."""

from __future__ import annotations

import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import compare
import load
from common import (
    BENCH_DIR,
    FLOOR_LAYERS,
    PATH,
    Backend,
    Kind,
    dispose,
    kinds_for,
    make_app,
    reset_database,
    seed,
    shuffled,
    stored_keys,
)


@dataclass
class LoadPlan:
    rounds: int
    per_thread: int
    warmup_per_thread: int
    workers: int = 4
    processes: int = 2
    threads: int = 4
    stored: int = 32
    max_phase_seconds: float = 120.0
    seed: int = 20261127

    @property
    def concurrency(self) -> int:
        return self.processes * self.threads


@dataclass
class Phase:
    latencies_ns: list[int]
    seconds: float
    errors: int
    statuses: dict[int, int]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ns) / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class LoadResult:
    backend: Backend
    kinds: list[Kind]
    phases: dict[str, list[Phase]] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``python -m gunicorn`` on a free loopback port, stopped (and waited for) on close."""

    def __init__(self, backend: Backend, layers: list[str], workers: int, tag: str) -> None:
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="bench-gunicorn-", suffix=".log")  # noqa: SIM115
        path = [str(BENCH_DIR), os.environ.get("PYTHONPATH", "")]
        if any(layer.startswith("idemkit") for layer in layers):
            path.append(str(compare.DEPS_DIR))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(part for part in path if part),
            "BENCH_BACKEND": backend.name,
            "BENCH_DATABASE_URL": backend.url,
            "BENCH_SQLITE_SYNCHRONOUS": backend.synchronous,
            "BENCH_LAYERS": ",".join(layers),
            "BENCH_NAMESPACE": f"league-bench-{tag}",
        }
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
                "5",
                "--log-level",
                "warning",
                "wsgi_app:create()",
            ],
            env=env,
            cwd=str(BENCH_DIR),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_until_ready()

    def wait_until_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"gunicorn exited: {self.log.read()[-2000:]!r}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means a worker is up
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start in time")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def _task(kind: Kind, port: int, auth: dict[str, str], keys: list[str], tag: str) -> dict:
    headers = {**auth, "Content-Type": "application/json"}
    if kind.mode != "none" and kind.layer != "league":  # the dispatcher's choice
        headers["X-Bench-Layer"] = kind.layer
    return {
        "port": port,
        "path": PATH,
        "body": kind.body,
        "headers": headers,
        "mode": kind.mode,
        "key_header": kind.key_header,
        "keys": keys,
        "tag": tag,
    }


def measure(backend: Backend, layers: list[str], plan: LoadPlan, tag: str) -> LoadResult:
    """Fresh database, one server, warm-up, then ``plan.rounds`` rounds of shuffled phases."""
    reset_database(backend)
    seeding_app = make_app(backend)
    world = seed(seeding_app)
    dispose(seeding_app)
    if "idemkit-pg" in layers:
        compare.init_pg_table(backend.url)
    kinds = kinds_for(["league", *layers])
    result = LoadResult(backend, kinds, {kind.name: [] for kind in kinds})
    auth = {"Authorization": f"Bearer {world['keys']['alice']}"}
    rng = random.Random(plan.seed)
    server = Server(backend, layers, plan.workers, tag)
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(plan.processes) as pool:
            keys = {}
            for layer in ["league", *layers]:
                if layer in FLOOR_LAYERS:
                    continue
                keys[layer] = stored_keys(layer, plan.stored, f"{tag}-srv")
                store = _task(Kind(layer, "first"), server.port, auth, [], tag)
                for key in keys[layer]:
                    store["headers"] = {**store["headers"], store["key_header"]: key}
                    status = load._one_request(
                        "127.0.0.1", server.port, PATH, store["body"], store["headers"]
                    )
                    if status != 201:
                        raise RuntimeError(f"storing {layer} key: status {status}")
            keys["floor-lean"] = keys["league"]

            def run(kind: Kind, per_thread: int) -> Phase:
                task = _task(kind, server.port, auth, keys.get(kind.layer, []), tag)
                task.update(
                    threads=plan.threads,
                    per_thread=per_thread,
                    max_seconds=plan.max_phase_seconds,
                )
                parts = pool.map(load.run_phase, [task] * plan.processes)
                statuses: dict[int, int] = {}
                for part in parts:
                    for status, count in part["statuses"].items():
                        statuses[status] = statuses.get(status, 0) + count
                return Phase(
                    [value for part in parts for value in part["latencies_ns"]],
                    max(part["end"] for part in parts) - min(part["start"] for part in parts),
                    sum(part["errors"] for part in parts),
                    statuses,
                )

            for kind in kinds:
                run(kind, plan.warmup_per_thread)
            for _round in range(plan.rounds):
                for kind in shuffled(kinds, rng):
                    result.phases[kind.name].append(run(kind, plan.per_thread))
    finally:
        server.close()
    return result


def unexpected(result: LoadResult) -> dict[str, dict[str, Any]]:
    """Per kind: transport errors and any status other than the expected one."""
    problems: dict[str, dict[str, Any]] = {}
    for kind in result.kinds:
        phases = result.phases[kind.name]
        errors = sum(phase.errors for phase in phases)
        wrong: dict[int, int] = {}
        for phase in phases:
            for status, count in phase.statuses.items():
                if status != kind.expected_status:
                    wrong[status] = wrong.get(status, 0) + count
        if errors or wrong:
            problems[kind.name] = {"errors": errors, "statuses": wrong}
    return problems
