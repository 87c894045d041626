"""In-process measurement with the Flask test client: low noise, many interleaved iterations."""

from __future__ import annotations

import gc
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import compare
from common import (
    FLOOR_LAYERS,
    PATH,
    Backend,
    Kind,
    StatementCounter,
    describe_statements,
    dispose,
    kinds_for,
    make_app,
    make_floor_app,
    make_layer_app,
    reset_database,
    seed,
    shuffled,
    stored_keys,
)

from league_api.db import db


@dataclass
class Plan:
    rounds: int
    batch: int
    warmup: int
    stored: int = 50
    seed: int = 20261127


@dataclass
class Result:
    backend: Backend
    kinds: list[Kind]
    # Per kind: one list of request times (ns) per round, in the order measured.
    samples: dict[str, list[list[int]]] = field(default_factory=dict)
    # The same requests' CPU time in this process (all threads): blind to waits for the disk,
    # the database server or the scheduler, so steadier on a shared machine.
    cpu_samples: dict[str, list[list[int]]] = field(default_factory=dict)
    statements: dict[str, dict[str, Any]] = field(default_factory=dict)
    store_calls: dict[str, dict[str, int]] = field(default_factory=dict)


class Harness:
    """One app per idempotency layer on the same database, and a request per kind."""

    def __init__(self, backend: Backend, layers: list[str], tag: str) -> None:
        self.backend = backend
        self.tag = tag
        reset_database(backend)
        self.apps: dict[str, Any] = {"league": make_app(backend)}
        self.world = seed(self.apps["league"])
        self.stores: dict[str, Any] = {}
        if "idemkit-pg" in layers:
            compare.init_pg_table(backend.url)
        for layer in layers:
            if layer in FLOOR_LAYERS:
                self.apps[layer] = make_floor_app(layer, backend)
                continue
            app, store = make_layer_app(backend, layer, f"league-bench-{tag}")
            if store is not None:
                self.stores[layer] = store
            self.apps[layer] = app
        self.clients = {layer: app.test_client() for layer, app in self.apps.items()}
        self.auth = {"Authorization": f"Bearer {self.world['keys']['alice']}"}
        self.kinds = kinds_for(["league", *layers])
        self.keys = {layer: stored_keys(layer, 0, tag) for layer in self.apps}
        self.cursor = 0

    def store_keys(self, count: int) -> None:
        """Store ``count`` keys per layer once, for the replay and conflict kinds."""
        for layer in self.apps:
            if layer in FLOOR_LAYERS:
                continue
            self.keys[layer] = stored_keys(layer, count, self.tag)
            first = Kind(layer, "first")
            for key in self.keys[layer]:
                self.send(first, key)
        self.keys["floor-lean"] = self.keys["league"]

    def key_for(self, kind: Kind) -> str | None:
        if kind.mode in {"none", "answer"}:
            return None
        if kind.mode == "first":
            return f"{self.tag}-{uuid.uuid4().hex}"
        self.cursor += 1
        keys = self.keys[kind.layer]
        return keys[self.cursor % len(keys)]

    def send(self, kind: Kind, key: str | None) -> int:
        headers = dict(self.auth)
        if key is not None:
            headers[kind.key_header] = key
        client = self.clients["league" if kind.mode == "none" else kind.layer]
        response = client.post(
            PATH, data=kind.body, headers=headers, content_type="application/json"
        )
        status = response.status_code
        response.close()
        if status != kind.expected_status:
            raise RuntimeError(f"{kind.name}: status {status}, expected {kind.expected_status}")
        return status

    def count_statements(self, result: Result) -> None:
        """What each kind sends to the app's database (and, for comparisons, to its store)."""
        for kind in self.kinds:
            if kind.layer in FLOOR_LAYERS:
                continue  # no database
            app = self.apps["league" if kind.mode == "none" else kind.layer]
            with app.app_context():
                engine = db.engine
            self.send(kind, self.key_for(kind))  # warm: statement caches, connections
            store = self.stores.get(kind.layer) if kind.mode != "none" else None
            with StatementCounter(engine) as counter:
                if store is None:
                    self.send(kind, self.key_for(kind))
                else:
                    with compare.count_store_calls(kind.layer, store) as calls:
                        self.send(kind, self.key_for(kind))
                    result.store_calls[kind.name] = dict(calls)
            result.statements[kind.name] = describe_statements(counter.labels)

    def close(self) -> None:
        for layer, app in self.apps.items():
            if layer not in FLOOR_LAYERS:
                dispose(app)


def measure(backend: Backend, layers: list[str], plan: Plan, tag: str) -> Result:
    """Warm up, then ``plan.rounds`` rounds of ``plan.batch`` requests per kind, interleaved."""
    harness = Harness(backend, layers, tag)
    rng = random.Random(plan.seed)
    result = Result(backend, harness.kinds)
    try:
        harness.store_keys(plan.stored)
        harness.count_statements(result)
        for kind in harness.kinds:
            for _ in range(plan.warmup):
                harness.send(kind, harness.key_for(kind))
        for kind in harness.kinds:
            result.samples[kind.name] = []
            result.cpu_samples[kind.name] = []
        clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
        for _round in range(plan.rounds):
            gc.collect()
            times: dict[str, list[int]] = {kind.name: [] for kind in harness.kinds}
            cpu_times: dict[str, list[int]] = {kind.name: [] for kind in harness.kinds}
            # Request by request, every kind in a fresh random order: a burst of load from a
            # neighbour lands on all kinds alike instead of on one kind's batch.
            for _ in range(plan.batch):
                for kind in shuffled(harness.kinds, rng):
                    key = harness.key_for(kind)
                    cpu_started, started = cpu_clock(), clock()
                    harness.send(kind, key)
                    times[kind.name].append(clock() - started)
                    cpu_times[kind.name].append(cpu_clock() - cpu_started)
            for kind in harness.kinds:
                result.samples[kind.name].append(times[kind.name])
                result.cpu_samples[kind.name].append(cpu_times[kind.name])
    finally:
        harness.close()
    return result
