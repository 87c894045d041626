"""The conformance hook (tests/openapi_conformance.py) catches responses that drift from the
OpenAPI document: each case breaks one thing on purpose and shows the hook's verdict."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from openapi_conformance import current_recorder, enabled

from league_api import errors
from league_api.api import tickets as tickets_api

pytest_plugins = ["pytester"]
# The hook is off only to measure what it costs (LEAGUE_API_CONFORMANCE=off).
pytestmark = pytest.mark.skipif(not enabled(), reason="the conformance hook is switched off")

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
    (problem,) = recorder.take()
    assert problem.startswith(f"{method} /api/v1{path} -> ")
    assert phrase in problem


@pytest.mark.parametrize(
    ("error", "phrase"),
    [
        (errors.SeasonNotInValidState, "status 409 is not documented"),
        (errors.MatchNotFound, "'error_match_not_found' is not one of"),
    ],
    ids=["undocumented-status", "undocumented-code"],
)
def test_an_undocumented_error_raised_by_a_view_is_reported(api, monkeypatch, error, phrase):
    """The real error path, not a rewrite: the ticket read raises what its operation lacks."""
    recorder = current_recorder()
    ticket_id = api.post("/tickets", "alice", TICKET).get_json()["ticketId"]
    assert api.get(f"/tickets/{ticket_id}", "alice").status_code == 200
    assert recorder.take() == []

    def refuse(*_args: Any, **_kwargs: Any):
        raise error()

    monkeypatch.setattr(tickets_api.domain, "owned_ticket", refuse)
    answer = api.get(f"/tickets/{ticket_id}", "alice")
    assert answer.get_json()["error"] == error.error_code
    (problem,) = recorder.take()
    assert problem.startswith(f"GET /api/v1/tickets/{ticket_id} -> {error.status} ")
    assert phrase in problem


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
            "*@not_from_the_app needs a reason=*",
            "*_ test_drift _*",
            "*1 response(s) differ from the OpenAPI document:*",
            "*GET /api/v1/tickets -> 401 error_api_key_required: undocumented headers*X-Drift*",
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
