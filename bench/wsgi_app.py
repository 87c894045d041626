"""The WSGI app a benchmark gunicorn serves: league_api, plus comparison layers chosen by header.

``gunicorn "wsgi_app:create()"`` with ``bench/`` (and ``bench/.deps`` for comparisons) on
PYTHONPATH. Every request goes to the plain league_api app, except those carrying the
comparison key header, which go to a second league_api app on the same database wrapped in
the comparison library. The choice is one dict lookup, the same for every kind of request.
"""

from __future__ import annotations

import os
from typing import Any

from common import FLOOR_LAYERS, Backend, make_app, make_floor_app, make_layer_app

COMPARISON_LAYER_HEADER = "HTTP_X_BENCH_LAYER"


def create() -> Any:
    """Build the dispatcher from BENCH_* environment variables (set by bench/server.py)."""
    backend = Backend(
        os.environ["BENCH_BACKEND"],
        os.environ["BENCH_BACKEND"],
        os.environ["BENCH_DATABASE_URL"],
        os.environ.get("BENCH_SQLITE_SYNCHRONOUS", "FULL"),
    )
    league = make_app(backend)
    layers: dict[str, Any] = {}
    names = [name for name in os.environ.get("BENCH_LAYERS", "").split(",") if name]
    if any(name.startswith("idemkit") for name in names):
        import compare

        compare.add_deps_to_path()
    for name in names:
        if name in FLOOR_LAYERS:
            layers[name] = make_floor_app(name, backend)
        else:
            layers[name], _store = make_layer_app(backend, name, os.environ["BENCH_NAMESPACE"])

    def dispatch(environ: dict[str, Any], start_response: Any) -> Any:
        target = layers.get(environ.get(COMPARISON_LAYER_HEADER, ""), league)
        return target(environ, start_response)

    return dispatch
