"""league_api with one undocumented response header: the conformance hook must catch it."""

from __future__ import annotations

from flask import Flask

import league_api


def create_app() -> Flask:
    app = league_api.create_app()

    @app.after_request
    def drift(response):
        response.headers["X-Drift"] = "1"
        return response

    return app
