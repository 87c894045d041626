"""Rate limits per client address and per API key, on the ``limits`` library's fixed windows.

Order (API.md 3): the client address is counted before anything else under the API prefix
(before the size check, the write lock and any SQL); the API key right after authentication,
before the write lock. Each limit string holds a burst and a sustained rate
(``"20/second;600/minute"``); every window is one *policy*, advertised on every response in
both dialects: ``RateLimit``/``RateLimit-Policy`` (draft-ietf-httpapi-ratelimit-headers-11,
structured-field lists) and ``X-RateLimit-Limit/-Remaining/-Reset`` (the tightest policy).

Flask-Limiter was measured at +200-310 us CPU per request here; ``limits`` directly costs a
few microseconds per window (bench/ratelimit.py, docs/BENCHMARK.md).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import Storage, storage_from_string

from league_api.errors import APIError, ApiRateLimited, IpRateLimited

log = logging.getLogger(__name__)

EXTENSION = "league_api.ratelimit"

DEFAULTS: dict[str, Any] = {
    "RATELIMIT_ENABLED": True,
    # "memory://": counted in this process; "redis://host:port/db" when processes share the load.
    "RATELIMIT_STORAGE_URI": "memory://",
    # Prefix of this app's keys in a shared storage (several deployments on one Redis).
    "RATELIMIT_STORAGE_PREFIX": "league_api",
    # Per client address: generous, since a LAN event puts a whole league behind one address.
    "RATELIMIT_IP": "100/second;3000/minute",
    # Per API key, across all routes.
    "RATELIMIT_KEY": "50/second;1500/minute",
    # How many proxies in front of the app append to X-Forwarded-For (0: use the socket).
    "RATELIMIT_TRUSTED_PROXIES": 0,
}
# After a storage failure, count in this process for this long before trying the storage again.
FALLBACK_SECONDS = 5.0
# A Redis that does not answer must not hold requests: fail over quickly instead.
REDIS_OPTIONS = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}


@dataclass(frozen=True)
class Policy:
    """One window of one scope, e.g. ``ip-1s``: 100 requests per 1 second per address."""

    name: str
    item: RateLimitItem
    quota: int
    window: int
    key_base: str  # the storage key, less the identity
    advertised: str  # this policy as a RateLimit-Policy list member


def parse_policies(scope: str, spec: str) -> tuple[Policy, ...]:
    """``"20/second;600/minute"`` as policies ``<scope>-1s`` and ``<scope>-60s``."""
    policies = []
    for item in parse_many(spec):
        window = int(item.get_expiry())
        name, quota = f"{scope}-{window}s", int(item.amount)
        advertised = f'"{name}";q={quota};w={window}'
        policies.append(Policy(name, item, quota, window, item.key_for(scope) + "/", advertised))
    names = [policy.name for policy in policies]
    if not policies or len(set(names)) != len(names):
        raise ValueError(f"rate limit {spec!r}: give one or more limits with distinct windows")
    return tuple(policies)


class LocalWindows:
    """Fixed windows counted in this process: one dict and one lock.

    Not ``limits``' MemoryStorage: that one starts a timer thread whenever 10 ms have passed
    since the last, which measured at +40-100 us of CPU per request here (bench/ratelimit.py);
    a fixed window needs only a count and an end. Ended windows are swept once a minute.
    """

    SWEEP_SECONDS = 60.0

    def __init__(self) -> None:
        self._windows: dict[str, list[float]] = {}  # key -> [count, end (Unix time)]
        self._lock = threading.Lock()
        self._next_sweep = time.time() + self.SWEEP_SECONDS

    def hit(self, key: str, expiry: int, now: float) -> tuple[int, float]:
        with self._lock:
            window = self._windows.get(key)
            if window is None or window[1] <= now:
                window = self._windows[key] = [0, now + expiry]
            window[0] += 1
            if now >= self._next_sweep:
                self._sweep(now)
            return int(window[0]), window[1]

    def _sweep(self, now: float) -> None:
        self._windows = {key: w for key, w in self._windows.items() if w[1] > now}
        self._next_sweep = now + self.SWEEP_SECONDS


class Counter:
    """Fixed-window counts in the configured storage, in this process while it is down.

    A shared storage (Redis) is used through ``limits``; its outage must never turn into 5xx
    answers: each failure is logged, counting falls back to this process, and the storage is
    tried again after a pause.
    """

    def __init__(self, uri: str, prefix: str) -> None:
        self.local = LocalWindows()
        self.shared: Storage | None = None
        if not uri.startswith("memory://"):
            options: dict[str, Any] = {}
            if uri.startswith(("redis://", "rediss://")):
                options = {**REDIS_OPTIONS, "key_prefix": prefix}
            self.shared = storage_from_string(uri, wrap_exceptions=True, **options)
        self._retry_at = 0.0
        self._failing = False
        self._lock = threading.Lock()

    @property
    def per_process(self) -> bool:
        return self.shared is None

    def hit(self, key: str, expiry: int, now: float) -> tuple[int, float]:
        """Count one request; (requests in the window so far, when the window ends)."""
        shared = self.shared
        if shared is not None and time.monotonic() >= self._retry_at:
            try:
                counted = shared.incr(key, expiry), shared.get_expiry(key)
            except StorageError as error:
                self._failed(error)
            else:
                if self._failing:
                    self._failing = False
                    log.warning("rate-limit storage is back; counting there again")
                return counted
        return self.local.hit(key, expiry, now)

    def _failed(self, error: StorageError) -> None:
        with self._lock:
            first, self._failing = not self._failing, True
            self._retry_at = time.monotonic() + FALLBACK_SECONDS
        # The URI may hold a password: name the kind of failure only.
        message = "rate-limit storage failed (%s); counting in this process, retry in %.0f s"
        level = logging.WARNING if first else logging.INFO
        log.log(level, message, type(error.storage_error).__name__, FALLBACK_SECONDS)


class RateLimiter:
    """The app's policies and counter; one per app."""

    def __init__(self, config: Any) -> None:
        self.ip_policies = parse_policies("ip", str(config["RATELIMIT_IP"]))
        self.key_policies = parse_policies("key", str(config["RATELIMIT_KEY"]))
        self.trusted_proxies = int(config["RATELIMIT_TRUSTED_PROXIES"])
        if self.trusted_proxies < 0:
            raise ValueError("RATELIMIT_TRUSTED_PROXIES must be 0 or more")
        self.counter = Counter(
            str(config["RATELIMIT_STORAGE_URI"]), str(config["RATELIMIT_STORAGE_PREFIX"])
        )

    def check(
        self, policies: tuple[Policy, ...], scope: str, identity: str, error: type[APIError]
    ) -> None:
        """Count one request against each policy; raise ``error`` if any is exhausted."""
        now = time.time()
        states = g.setdefault("ratelimit", [])
        retry_after = 0
        for policy in policies:
            used, reset = self.counter.hit(policy.key_base + identity, policy.window, now)
            seconds = min(policy.window, max(0, math.ceil(reset - now)))
            states.append((policy, max(0, policy.quota - used), seconds))
            if used > policy.quota:
                retry_after = max(retry_after, seconds, 1)
        if retry_after:
            g.ratelimit_outcome = f"{scope}_limited"
            raise error(retry_after=retry_after)

    def client_address(self) -> str:
        """The socket's address, or the one ``trusted_proxies`` proxies vouch for."""
        address = request.remote_addr or ""
        if self.trusted_proxies:
            forwarded = request.headers.get("X-Forwarded-For", "")
            hops = [hop.strip() for hop in forwarded.split(",")]
            # Each trusted proxy appends the address it got the request from: the entry the
            # outermost trusted proxy wrote is the client; anything left of it is hearsay.
            if len(hops) >= self.trusted_proxies and hops[-self.trusted_proxies]:
                address = hops[-self.trusted_proxies]
        if ":" in address:
            # One IPv6 host commonly holds a whole /64: count the network, not the address.
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return address
            if ip.version == 6:
                mapped = ip.ipv4_mapped
                if mapped is not None:
                    return str(mapped)
                return str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return address


def _limiter() -> RateLimiter | None:
    return current_app.extensions.get(EXTENSION)


def check_address() -> None:
    """``before_request`` under the API prefix: step 0, before the size check and any SQL."""
    limiter = _limiter()
    if limiter is not None:
        limiter.check(limiter.ip_policies, "ip", limiter.client_address(), IpRateLimited)


def check_key(key_id: str) -> None:
    """Right after authentication, before the write lock: one bucket per key, all routes."""
    limiter = _limiter()
    if limiter is not None:
        limiter.check(limiter.key_policies, "key", key_id, ApiRateLimited)


def add_headers(response: Response) -> Response:
    """Both header dialects on every answer whose request was counted."""
    states = g.get("ratelimit")
    if not states:
        return response
    # The older dialect has room for one limit: the one closest to refusing.
    policy, remaining, seconds = min(states, key=_closest_to_refusing)
    # Appended, not set: only this hook writes these names, and it runs once per answer.
    add = response.headers.add
    add("RateLimit-Policy", _advertised(tuple([state[0] for state in states])))
    add("RateLimit", ", ".join([f'"{p.name}";r={r};t={t}' for p, r, t in states]))
    add("X-RateLimit-Limit", str(policy.quota))
    add("X-RateLimit-Remaining", str(remaining))
    add("X-RateLimit-Reset", str(math.ceil(time.time()) + seconds))
    return response


def _closest_to_refusing(state: tuple[Policy, int, int]) -> tuple[int, int]:
    return state[1], -state[2]


@functools.lru_cache(maxsize=64)
def _advertised(policies: tuple[Policy, ...]) -> str:
    return ", ".join([policy.advertised for policy in policies])


def enabled(config: Any) -> bool:
    value = config.get("RATELIMIT_ENABLED", True)
    if isinstance(value, str):
        return value.strip().lower() not in {"0", "false", "no", "off", ""}
    return bool(value)


def _multi_process_server() -> str | None:
    """The pre-forking server this process runs under, if any (its workers count apart)."""
    for module, name in (("gunicorn.workers", "gunicorn"), ("uwsgi", "uWSGI")):
        if module in sys.modules:
            return name
    return None


def init_app(app: Flask, prefix: str) -> None:
    """Count requests under ``prefix``; a no-op (no checks, no headers) when disabled."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    if not enabled(app.config):
        return
    limiter = RateLimiter(app.config)
    app.extensions[EXTENSION] = limiter
    if limiter.counter.per_process:
        server = _multi_process_server()
        if server is not None:
            log.warning(
                "rate limits are counted per %s worker process (RATELIMIT_STORAGE_URI is "
                "memory://): with N workers a client gets up to N times its limit; set "
                "RATELIMIT_STORAGE_URI=redis://... to count across processes",
                server,
            )
        else:
            log.info("rate limits are counted in this process (memory://)")

    under_prefix = prefix + "/"

    @app.before_request
    def _ratelimit_address() -> None:
        path = request.path
        if path == prefix or path.startswith(under_prefix):
            check_address()

    app.after_request(add_headers)
