"""The conformance hook (tests/openapi_conformance.py) catches responses that drift from the
OpenAPI document: each case breaks one thing on purpose and shows the hook's verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_conformance import current_recorder

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent
TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def rewrite_json(response, change) -> None:
    payload = response.get_json()
    change(payload)
    response.set_data(json.dumps(payload))


def drop_timestamp(response) -> None:
    rewrite_json(response, lambda body: body.pop("timestamp"))


def add_field(response) -> None:
    rewrite_json(response, lambda body: body.update(internalNote="leaked"))


def wrong_type(response) -> None:
    rewrite_json(response, lambda body: body.update(ticketNumber="one"))


def other_code(response) -> None:
    # A real contract code, but not one a 404 of this operation carries.
    rewrite_json(response, lambda body: body.update(error="error_ticket_closed"))


def other_status(response) -> None:
    response.status_code = 202


def extra_header(response) -> None:
    response.headers["X-Debug-Trace"] = "1"


def html_not_found(response) -> None:
    response.set_data(b"<h1>Not Found</h1>")
    response.mimetype = "text/html"


def keep_allow_from_docs(response) -> None:
    response.headers["Allow"] = "GET, POST, DELETE, HEAD, OPTIONS"


# (name, method, path, body, the breakage, a phrase the hook must report)
CASES = [
    ("body-missing-field", "POST", "/tickets", TICKET, drop_timestamp, "timestamp"),
    ("body-extra-field", "POST", "/tickets", TICKET, add_field, "internalNote"),
    ("body-wrong-type", "POST", "/tickets", TICKET, wrong_type, "ticketNumber"),
    ("undocumented-code", "GET", "/tickets/nope", None, other_code, "error_ticket_closed"),
    ("undocumented-status", "POST", "/tickets", TICKET, other_status, "status 202"),
    ("undocumented-header", "GET", "/tickets", None, extra_header, "X-Debug-Trace"),
    ("no-route-not-json", "GET", "/nowhere", None, html_not_found, "JSON error"),
    ("allow-header", "PUT", "/tickets", None, keep_allow_from_docs, "Allow"),
]


def call(api, method: str, path: str, body: Any):
    return api.call(method, path, "alice", body)


@pytest.mark.parametrize(
    ("method", "path", "body", "breakage", "phrase"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_the_hook_reports_a_response_that_drifts(app, api, method, path, body, breakage, phrase):
    broken = {"on": False}

    @app.after_request
    def drift(response):
        if broken["on"]:
            breakage(response)
        return response

    recorder = current_recorder()
    call(api, method, path, body)
    assert recorder.take() == [], "the untouched answer must conform"
    broken["on"] = True
    call(api, method, path, body)
    problems = recorder.take()
    assert len(problems) == 1, problems
    assert phrase in problems[0]
    assert problems[0].startswith(f"{method} /api/v1{path} -> ")


def test_an_undocumented_error_raised_by_a_view_is_reported(app, api, monkeypatch):
    """The real error path, not a rewrite: a lookup that raises a code its operation lacks."""
    from league_api import errors

    def closed(*_args: Any, **_kwargs: Any):
        raise errors.APIError(409, "error_season_not_in_valid_state")

    recorder = current_recorder()
    ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    assert api.get(f"/tickets/{ticket_id}", "alice").status_code == 200
    assert recorder.take() == []

    @app.before_request
    def refuse():
        closed()

    answer = api.get(f"/tickets/{ticket_id}", "alice")
    assert answer.get_json()["error"] == "error_season_not_in_valid_state"
    (problem,) = recorder.take()
    assert "409" in problem


def test_the_hook_fails_the_test_that_received_the_drift(pytester, monkeypatch):
    """End to end: the plugin, loaded as conftest.py loads it, fails only the drifting test."""
    pytester.makeconftest(
        """
        from openapi_conformance import ConformancePlugin

        def pytest_configure(config):
            config.pluginmanager.register(ConformancePlugin(), "openapi_conformance")
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from league_api import create_app

        def make(tmp_path):
            uri = f"sqlite:///{tmp_path / 'league.sqlite'}"
            return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri})

        def test_clean(tmp_path):
            assert make(tmp_path).test_client().get("/api/v1/tickets").status_code == 401

        def test_drift(tmp_path):
            app = make(tmp_path)

            @app.after_request
            def drift(response):
                response.headers["X-Drift"] = "1"
                return response

            assert app.test_client().get("/api/v1/tickets").status_code == 401

        @pytest.mark.not_from_the_app(401)
        def test_a_marker_needs_a_reason(tmp_path):
            pass
        """
    )
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=1, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*response(s) differ from the OpenAPI document*",
            "*GET /api/v1/tickets -> 401 error_api_key_required: undocumented headers ['X-Drift']*",
            "*needs a reason=*",
        ]
    )


def test_http_responses_from_gunicorn_are_checked_too(live_server, tmp_path):
    """requests' Session.send is watched: a drifting server is caught through real HTTP."""
    recorder = current_recorder()
    server = live_server(workers=1, app_spec="tests.apps.drift_app:create_app()")
    recorder.take()  # the readiness probe
    assert requests.get(server.url + "/tickets", timeout=10).status_code == 401
    (problem,) = recorder.take()
    assert "GET /api/v1/tickets -> 401 error_api_key_required" in problem
    assert "X-Drift" in problem
