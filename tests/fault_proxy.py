"""A loopback TCP proxy that loses requests and answers on purpose (the client fault test).

One request and its answer per client connection (the proxy closes both sides after relaying
one exchange), each connection given one fault drawn at random:

- ``drop``: the request reaches the server and its whole answer comes back, but the client
  gets a TCP reset instead (the write ran; the client must not know it);
- ``reset``: half the request reaches the server, then both sides are reset (nothing ran);
- ``delay_request``: the request is held past the client's timeout, then sent on (a late
  duplicate racing the client's retry);
- ``delay_answer``: the answer is held past the client's timeout (the write ran);
- ``none``: relayed as is.

A connection whose server side dies (a SIGKILLed worker) is reset towards the client too.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable

FAULTS = ("drop", "reset", "delay_request", "delay_answer")
IO_TIMEOUT_S = 30.0


class Closed(Exception):
    """The other side closed before a whole message came."""


def _read_message(sock: socket.socket, until_eof_without_length: bool) -> bytes:
    """One HTTP/1.1 message: head, then a Content-Length body (or, for answers, up to EOF)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise Closed(data)
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length is None and not until_eof_without_length:
        length = 0
    while length is None or len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            if length is None:
                break
            raise Closed(data)
        body += chunk
    return head + b"\r\n\r\n" + body


def _reset(sock: socket.socket) -> None:
    """Close with a TCP RST (SO_LINGER 0), the way a crashed peer looks."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    """Listens on 127.0.0.1:<port> and relays to ``upstream`` with faults (see module doc)."""

    def __init__(
        self,
        upstream_port: int,
        *,
        drop: float,
        reset: float,
        delay: float,
        delay_s: float,
        seed: int = 0,
        on_connection: Callable[[], None] | None = None,
    ) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.weights = {
            "drop": drop,
            "reset": reset,
            "delay_request": delay / 2,
            "delay_answer": delay / 2,
        }
        self.delay_s = delay_s
        self.on_connection = on_connection
        self.counts: Counter[str] = Counter()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.port = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _fault(self) -> str:
        with self._lock:
            draw = self._random.random()
        for fault, weight in self.weights.items():
            if draw < weight:
                return fault
            draw -= weight
        return "none"

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        fault = self._fault()
        client.settimeout(IO_TIMEOUT_S)
        try:
            request = _read_message(client, until_eof_without_length=False)
        except (OSError, Closed):
            client.close()
            return
        if self.on_connection is not None:
            self.on_connection()
        try:
            upstream = socket.create_connection(self.upstream, timeout=IO_TIMEOUT_S)
        except OSError:
            self._count("upstream_refused")
            _reset(client)
            return
        try:
            self._relay(client, upstream, request, fault)
        except (OSError, Closed):
            # The server side died (a killed worker) or the client gave up: reset both.
            self._count("broken")
            _reset(client)
        finally:
            upstream.close()
            client.close()

    def _relay(
        self, client: socket.socket, upstream: socket.socket, request: bytes, fault: str
    ) -> None:
        self._count(fault)
        if fault == "reset":
            upstream.sendall(request[: len(request) // 2])
            _reset(upstream)
            _reset(client)
            return
        if fault == "delay_request":
            time.sleep(self.delay_s)  # an injected delay, not a wait for a race
        upstream.sendall(request)
        answer = _read_message(upstream, until_eof_without_length=True)
        status = answer[9:12].decode("ascii", "replace")
        if fault == "drop":
            self._count(f"dropped_{status}")
            _reset(client)
            return
        if fault == "delay_answer":
            time.sleep(self.delay_s)
        client.sendall(answer)

    def close(self) -> None:
        self._closed.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self._listener.close()
        self._acceptor.join(timeout=IO_TIMEOUT_S)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=IO_TIMEOUT_S)
