"""Loopback load for one phase: a few threads in each of a few processes, bounded in count and time.

Runs in spawned worker processes (multiprocessing), so it imports nothing heavy.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from typing import Any


def _one_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def run_phase(task: dict[str, Any]) -> dict[str, Any]:
    """Threads each send ``per_thread`` requests (or stop at the deadline); latencies in ns."""
    host, port = "127.0.0.1", int(task["port"])
    if not host.startswith("127."):
        raise ValueError("loopback only")
    deadline = time.monotonic() + float(task["max_seconds"])
    threads = int(task["threads"])
    barrier = threading.Barrier(threads)
    latencies: list[list[int]] = [[] for _ in range(threads)]
    statuses: list[dict[int, int]] = [{} for _ in range(threads)]
    errors = [0] * threads
    starts = [0.0] * threads
    ends = [0.0] * threads

    def worker(index: int) -> None:
        keys = task["keys"]
        barrier.wait()
        starts[index] = time.monotonic()
        for number in range(int(task["per_thread"])):
            if time.monotonic() > deadline:
                break
            headers = dict(task["headers"])
            if task["mode"] == "first":
                headers[task["key_header"]] = f"{task['tag']}-{uuid.uuid4().hex}"
            elif task["mode"] in {"replay", "conflict"}:
                headers[task["key_header"]] = keys[(index * 7 + number) % len(keys)]
            started = time.perf_counter_ns()
            try:
                status = _one_request(host, port, task["path"], task["body"], headers)
            except OSError:
                errors[index] += 1
                continue
            latencies[index].append(time.perf_counter_ns() - started)
            statuses[index][status] = statuses[index].get(status, 0) + 1
        ends[index] = time.monotonic()

    pool = [threading.Thread(target=worker, args=(index,)) for index in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    merged: dict[int, int] = {}
    for counts in statuses:
        for status, count in counts.items():
            merged[status] = merged.get(status, 0) + count
    return {
        "latencies_ns": [value for values in latencies for value in values],
        "start": min(starts),
        "end": max(ends),
        "errors": sum(errors),
        "statuses": merged,
    }
