"""Routing: each rule answers only the paths it was written for, and Allow tells the truth."""

from __future__ import annotations

import re

import pytest
from conftest import error_of

CREATE_PATHS = [
    "/matches/create",
    "/game/matches/create",
    "/leagues/demo-league/seasons/create",
    "/leagues/demo-league/tickets/create",
]


@pytest.mark.parametrize("path", CREATE_PATHS)
def test_get_on_a_create_path_is_a_405_not_a_read(api, path):
    response = api.get(path, "alice")
    assert error_of(response) == (405, "error_method_not_allowed")
    assert set(response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}


def documented(spec: dict) -> dict[str, set[str]]:
    return {
        path: {method.upper() for method in operations}
        for path, operations in spec["paths"].items()
    }


def concrete(path: str) -> str:
    return re.sub(r"\{slug\}", "demo-league", re.sub(r"\{[a-z_]+_id\}", "0123abcd", path))


def test_allow_is_the_documented_methods_plus_head_with_get_plus_options(client, api):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path, methods in documented(spec).items():
        expected = methods | ({"HEAD"} if "GET" in methods else set()) | {"OPTIONS"}
        url = concrete(path)
        options = client.options(url)
        assert set(options.headers["Allow"].split(", ")) == expected, path
        unused = next(m for m in ("PUT", "DELETE", "PATCH", "POST", "GET") if m not in methods)
        refused = client.open(url, method=unused)
        assert error_of(refused) == (405, "error_method_not_allowed"), (path, unused)
        assert set(refused.headers["Allow"].split(", ")) == expected, path


@pytest.mark.parametrize("value", ["", "create/x", "a%00b"])
def test_an_id_no_rule_takes_is_no_route(api, value):
    assert error_of(api.get(f"/matches/{value}", "alice"))[1] in {
        "error_not_found",
        "error_method_not_allowed",
    }


def test_an_empty_cursor_means_the_first_page(api):
    body = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
    api.post("/tickets", "alice", body)
    listed = api.get("/tickets", "alice", query_string={"cursor": ""})
    assert listed.status_code == 200
    assert len(listed.get_json()["tickets"]) == 1
    games = api.post("/game/matches", "game", {"cursor": ""})
    assert games.status_code == 200


@pytest.mark.parametrize("cursor", ["x", "1.5", "٣", " 1", "9" * 16])
def test_a_cursor_that_is_no_ticket_number_is_a_400(api, cursor):
    response = api.get("/tickets", "alice", query_string={"cursor": cursor})
    assert error_of(response) == (400, "error_invalid_request")


@pytest.mark.parametrize("limit", ["+5", " 5", "5_0", "5.0", "0", "101"])
def test_a_limit_the_document_refuses_the_server_refuses(api, limit):
    response = api.get("/tickets", "alice", query_string={"limit": limit})
    assert error_of(response) == (400, "error_invalid_request")


def test_unknown_query_parameters_are_ignored_as_on_every_read(api):
    assert api.get("/tickets", "alice", query_string={"page": "2"}).status_code == 200
