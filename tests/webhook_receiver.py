"""A real loopback webhook receiver that misbehaves on purpose, and records every request.

Each request is answered normally (200) or, on a random share, with one fault: a 500, a
hold (no answer until the sender gives up and closes), or a dropped connection. Every
request is recorded with the moment it arrived and the moment it ended on this side (the
answer written, or the sender gone), so overlapping attempts show.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

FAULTS = ("http_500", "hold", "drop")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    started: float
    ended: float = 0.0
    answer: str = "200"
    # Per secret expected for its path: did the signature verify when the request arrived?
    verified: dict[str, bool] = field(default_factory=dict)


@dataclass
class Receiver:
    fault_rate: float = 0.0
    seed: int = 0
    # How long a held request waits for the sender to give up before answering anyway.
    hold_limit: float = 10.0
    # A fixed answer for every request (overrides faults): (status, headers).
    fixed: tuple[int, dict[str, str]] | None = None
    records: list[Received] = field(default_factory=list)
    # The secrets each path's messages must verify with, checked on arrival (as a receiver
    # does: the signature's timestamp must be within 5 minutes of the receiver's clock).
    secrets: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        # Requests being handled: a request is recorded after its answer (to time its end), so
        # a snapshot waits for those in flight instead of racing the handler thread.
        self.in_flight = 0
        self.settled = threading.Condition(self.lock)
        # Set when a request arrives: lets a test strike while one is in flight.
        self.arrived = threading.Event()
        self.rng = random.Random(self.seed)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                with receiver.lock:
                    receiver.in_flight += 1
                try:
                    self._handle()
                finally:
                    with receiver.lock:
                        receiver.in_flight -= 1
                        receiver.settled.notify_all()

            def _handle(self) -> None:
                started = time.monotonic()
                receiver.arrived.set()
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                record = Received(self.path, dict(self.headers.items()), body, started)
                for secret in receiver.secrets.get(self.path, []):
                    try:
                        Webhook(secret).verify(body, record.headers)
                        record.verified[secret] = True
                    except WebhookVerificationError:
                        record.verified[secret] = False
                record.answer = receiver.choose()
                if record.answer == "hold":
                    self.connection.settimeout(receiver.hold_limit)
                    try:
                        gone = self.connection.recv(1) == b""
                    except (TimeoutError, OSError):
                        gone = False
                    if not gone:
                        record.answer = "hold_expired"
                        self._answer(200)
                elif record.answer == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                elif record.answer == "http_500":
                    self._answer(500)
                else:
                    status, headers = receiver.fixed or (200, {})
                    self._answer(status, headers)
                record.ended = time.monotonic()
                with receiver.lock:
                    receiver.records.append(record)

            def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def choose(self) -> str:
        if self.fixed is not None:
            return str(self.fixed[0])
        with self.lock:
            if self.rng.random() < self.fault_rate:
                return self.rng.choice(FAULTS)
        return "200"

    def snapshot(self) -> list[Received]:
        """Every request so far, once those being handled have been recorded."""
        with self.settled:
            self.settled.wait_for(lambda: self.in_flight == 0, timeout=self.hold_limit + 5)
            return list(self.records)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
