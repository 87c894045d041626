"""``flask --app league_api serve``: the production server, waitress.

Why waitress: its I/O loop reads each request whole (headers and body) before a worker thread
sees it, so slow or idle connections cost a socket, never a thread. gunicorn's sync workers
(one request per process, read by the process itself) stop answering anyone once a handful of
connections send half a request and wait. One process with threads also counts rate limits
exactly with the in-process default (``memory://``), and suits the embedded SQLite database,
which takes one writer at a time anyway. Several processes or hosts: run one ``serve`` each
behind a reverse proxy and share ``RATELIMIT_STORAGE_URI=redis://...`` (docs/DESIGN.md).
"""

from __future__ import annotations

import logging
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from league_api import ratelimit

log = logging.getLogger(__name__)

# Threads run complete requests only; SQLite serialises writers, so a few suffice.
THREADS = 8
# Open connections at most; past it waitress stops accepting until some close.
CONNECTION_LIMIT = 1000
# A connection that sends nothing for this long is closed: the keep-alive (idle) timeout, and
# the time a stalled upload may hold its socket.
CHANNEL_TIMEOUT_S = 20
# Headers larger than this are refused by waitress (431) before the app sees them.
MAX_HEADER_BYTES = 64 * 1024


def configure_logging() -> None:
    """Plain lines to stderr, the access log as bare JSON lines; a host's own setup wins."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    access = logging.getLogger("league_api.access")
    access_handler = logging.StreamHandler(sys.stderr)
    access_handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(access_handler)
    access.propagate = False


def waitress_settings(app: Flask, host: str, port: int, threads: int) -> dict[str, object]:
    config = app.config
    trusted_proxies = int(config.get("RATELIMIT_TRUSTED_PROXIES", 0))
    return {
        "host": host,
        "port": port,
        "threads": threads,
        "connection_limit": CONNECTION_LIMIT,
        "channel_timeout": CHANNEL_TIMEOUT_S,
        "cleanup_interval": 2,
        "max_request_header_size": MAX_HEADER_BYTES,
        # The app answers bodies over MAX_BODY_BYTES with its JSON 413; waitress refuses
        # (plain 413) only what is far beyond, so it never buffers an endless upload.
        "max_request_body_size": 4 * int(config["MAX_BODY_BYTES"]) + MAX_HEADER_BYTES,
        # poll(), not select(): select() fails past 1024 open descriptors.
        "asyncore_use_poll": True,
        # The app reads X-Forwarded-For itself, through RATELIMIT_TRUSTED_PROXIES proxies;
        # waitress must not drop the header then, nor rewrite the socket's address.
        "clear_untrusted_proxy_headers": trusted_proxies == 0,
        "expose_tracebacks": False,
        "ident": "league_api",
    }


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--threads", default=THREADS, show_default=True, type=int)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Serve the API with waitress (the production setup)."""
    import waitress

    configure_logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    limiter = app.extensions.get(ratelimit.EXTENSION)
    if limiter is None:
        counting = "off"
    elif limiter.counter.per_process:
        counting = "in this process (memory://): exact, as this is the only process"
    else:
        counting = "in the shared storage (RATELIMIT_STORAGE_URI)"
    log.info(
        "league_api on http://%s:%d, %d threads; rate limits %s", host, port, threads, counting
    )
    waitress.serve(app, **waitress_settings(app, host, port, threads))


def init_app(app: Flask) -> None:
    app.cli.add_command(serve_command)
