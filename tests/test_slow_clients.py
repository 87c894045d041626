"""Slow clients against the README's production command: a real server process, 50 connections
trickling partial requests, and an ordinary client that must get every answer (p99 < 1 s)."""

from __future__ import annotations

import os
import re
import shlex
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from conftest import SUITE_LIMITS, free_port

README = Path(__file__).resolve().parent.parent / "README.md"
SLOW_CONNECTIONS = 50
ORDINARY_REQUESTS = int(os.environ.get("LEAGUE_API_SLOW_REQUESTS", "200"))
# One byte per connection per tick: each stays "mid-request" for the whole test.
TICK_S = 0.1
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def production_command(host: str, port: int) -> list[str]:
    """The README's production command, word for word, on a loopback address and free port."""
    text = README.read_text()
    section = text.split("## Production", 1)[1]
    line = re.search(r"^\.venv/bin/flask .*\bserve\b.*$", section, re.MULTILINE)
    assert line, "README lost its production command"
    words = shlex.split(line.group(0))
    words[0] = str(Path(sys.executable).parent / "flask")  # this venv's `.venv/bin/flask`
    for flag, value in (("--host", host), ("--port", str(port))):
        assert flag in words, f"README's production command lacks {flag}"
        words[words.index(flag) + 1] = value
    return words


class Server:
    def __init__(self, command: list[str], env: dict[str, str], log_path: Path, url: str):
        self.log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.url = url
        self.process = subprocess.Popen(
            command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, log_path.read_text()[-2000:]
            assert time.monotonic() < deadline, "the server did not start in time"
            try:
                requests.get(url + "/openapi.json", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.05)  # process start-up, not a race

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Tricklers:
    """``count`` connections, each having sent part of a request, sending one byte per tick."""

    def __init__(self, port: int, count: int) -> None:
        self.sockets = []
        for index in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            # Half of them stall in the headers, half in a body they announced.
            if index % 2:
                sock.sendall(b"GET /api/v1/tickets HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:
                sock.sendall(
                    b"POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
                )
            self.sockets.append(sock)
        self.stopped = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stopped.wait(TICK_S):  # pacing, bounded by stop()
            for sock in self.sockets:
                try:
                    sock.send(b"a")
                    self.sent += 1
                except OSError:
                    pass

    def still_open(self) -> int:
        """How many the server has not closed (a closed one reads EOF at once)."""
        open_count = 0
        for sock in self.sockets:
            sock.setblocking(False)
            try:
                open_count += sock.recv(1) != b""
            except BlockingIOError:
                open_count += 1
            except OSError:
                pass
        return open_count

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def production_server(database_url, served_world, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
        # The ordinary client's own pace is not what this test is about.
        **{f"FLASK_{name}": value for name, value in SUITE_LIMITS.items()},
    }
    server = Server(
        production_command("127.0.0.1", port),
        env,
        tmp_path / "serve.log",
        f"http://127.0.0.1:{port}/api/v1",
    )
    yield server, port, served_world
    server.stop()


def test_fifty_trickling_connections_do_not_starve_ordinary_requests(production_server):
    server, port, world = production_server
    headers = {"Authorization": f"Bearer {world['keys']['alice']}"}
    tricklers = Tricklers(port, SLOW_CONNECTIONS)
    latencies: list[float] = []
    statuses: list[int] = []
    try:
        with requests.Session() as session:
            for index in range(ORDINARY_REQUESTS):
                started = time.perf_counter()
                if index % 4 == 0:
                    response = session.post(
                        server.url + "/tickets", json=TICKET, headers=headers, timeout=10
                    )
                else:
                    response = session.get(server.url + "/tickets", headers=headers, timeout=10)
                latencies.append(time.perf_counter() - started)
                statuses.append(response.status_code)
        still_open = tricklers.still_open()
    finally:
        tricklers.stop()
    p99 = statistics.quantiles(latencies, n=100)[98]
    print(
        f"\nslow clients: {SLOW_CONNECTIONS} trickling, {ORDINARY_REQUESTS} ordinary requests, "
        f"p50 {statistics.median(latencies) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
        f"max {max(latencies) * 1000:.1f} ms; {still_open} slow connections still open"
    )
    expected = [201 if index % 4 == 0 else 200 for index in range(ORDINARY_REQUESTS)]
    assert statuses == expected  # every ordinary request answered
    assert tricklers.sent > 0 and still_open == SLOW_CONNECTIONS  # they were really there
    assert p99 < 1.0  # the acceptance figure
