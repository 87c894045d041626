"""One structured log line per API request, and opt-in Prometheus metrics of the same.

The line (logger ``league_api.access``, INFO, one JSON object) names the request id, the API
key's id (never the key), method, route, status, duration, the idempotency outcome and the
rate-limit outcome. Headers, bodies and query strings are never logged.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from league_api.idempotency.decorator import OUTCOME_ATTRIBUTE

access_log = logging.getLogger("league_api.access")

DEFAULTS: dict[str, Any] = {
    "METRICS_ENABLED": False,
    "METRICS_PATH": "/metrics",
}
REQUEST_ID_HEADER = "X-Request-Id"
# A caller's own id is echoed only if it is short and plain (it lands in logs verbatim).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The app's counters and latency histogram, in their own registry.

    Under several worker processes (gunicorn) prometheus-client's multiprocess mode applies when
    ``PROMETHEUS_MULTIPROC_DIR`` is set: values go to files there and the endpoint adds up all
    processes' files.
    """

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        self.registry = CollectorRegistry()
        own = None if self.multiprocess else self.registry
        self.requests = Counter(
            "league_api_requests",
            "API requests answered, by route, status and outcome",
            ["method", "route", "status", "idempotency", "ratelimit"],
            registry=own,
        )
        self.duration = Histogram(
            "league_api_request_duration_seconds",
            "Time from the request reaching the app to its answer, by route",
            ["method", "route"],
            buckets=BUCKETS,
            registry=own,
        )

    def exposition(self) -> bytes:
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)


def _request_id(req: Any) -> str:
    given = req.headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else os.urandom(16).hex()


def init_app(app: Flask, prefix: str) -> None:
    """Log (and count, if METRICS_ENABLED) every request under ``prefix``.

    Call before any other before_request hook, so the duration covers the rate limit too.
    """
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    metrics = Metrics() if app.config["METRICS_ENABLED"] else None
    under_prefix = prefix + "/"

    @app.before_request
    def _start() -> None:
        req = request._get_current_object()
        path = req.path
        if path == prefix or path.startswith(under_prefix):
            context = g._get_current_object()
            context.request_started = time.perf_counter()
            context.request_id = _request_id(req)

    @app.after_request
    def _finish(response: Response) -> Response:
        context = g._get_current_object()
        started = context.get("request_started")
        if started is None:
            return response
        duration = time.perf_counter() - started
        response.headers.add(REQUEST_ID_HEADER, context.request_id)  # only this hook sets it
        if metrics is None and not access_log.isEnabledFor(logging.INFO):
            return response
        rule = request.url_rule
        route = rule.rule if rule is not None else None
        idempotency = g.get(OUTCOME_ATTRIBUTE)
        ratelimit = g.get("ratelimit_outcome") or ("allowed" if g.get("ratelimit") else "off")
        if metrics is not None:
            metrics.requests.labels(
                request.method,
                route or "unmatched",
                str(response.status_code),
                idempotency or "none",
                ratelimit,
            ).inc()
            metrics.duration.labels(request.method, route or "unmatched").observe(duration)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                json.dumps(
                    {
                        "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                        "request_id": g.request_id,
                        "api_key_id": g.get("api_key_id"),
                        "method": request.method,
                        "route": route,
                        "status": response.status_code,
                        "duration_ms": round(duration * 1000, 3),
                        "idempotency": idempotency,
                        "ratelimit": ratelimit,
                    },
                    separators=(",", ":"),
                )
            )
        return response

    if metrics is not None:

        def metrics_view() -> Response:
            return Response(metrics.exposition(), content_type=CONTENT_TYPE_LATEST)

        app.add_url_rule(
            app.config["METRICS_PATH"], "league_api_metrics", metrics_view, methods=["GET"]
        )
