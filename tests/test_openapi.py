"""GET /api/v1/openapi.json: a public OpenAPI 3.1 document that matches the url_map."""

import json
import re

import pytest

from league_api import openapi

IDEM_HEADER = "#/components/parameters/IdempotencyKey"


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def api_rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")]


def openapi_path(rule) -> str:
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)


def operations(spec: dict):
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def resolve(spec: dict, node: dict) -> dict:
    if "$ref" not in node:
        return node
    *_, section, name = node["$ref"].split("/")
    return spec["components"][section][name]


def test_the_document_is_openapi_3_1_and_needs_no_key(spec):
    assert re.fullmatch(r"3\.1\.\d+", spec["openapi"])
    assert spec["components"]["securitySchemes"]["bearer"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearer": []}]
    assert spec["paths"]["/api/v1/openapi.json"]["get"]["security"] == []


def test_every_api_rule_appears_with_its_methods_and_path_parameters(app, spec):
    expected = set()
    for rule in api_rules(app):
        path = openapi_path(rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            expected.add((method, path))
            operation = spec["paths"][path][method.lower()]
            in_path = {p["name"] for p in operation["parameters"] if p.get("in") == "path"}
            assert in_path == set(rule.arguments), (method, path)
    assert {(method, path) for method, path, _ in operations(spec)} == expected
    assert len(expected) > 30


def test_the_idempotency_key_header_is_on_exactly_the_sixteen_idem_operations(app, spec):
    idem = {
        (method, openapi_path(rule))
        for rule in api_rules(app)
        if getattr(app.view_functions[rule.endpoint], "idempotent", False)
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    with_header = {
        (method, path)
        for method, path, operation in operations(spec)
        if {"$ref": IDEM_HEADER} in operation["parameters"]
    }
    assert len(idem) == 16
    assert with_header == idem
    header = resolve(spec, {"$ref": IDEM_HEADER})
    assert (header["name"], header["in"]) == ("Idempotency-Key", "header")
    assert header["schema"]["maxLength"] == 255


def body_schema(spec: dict, method: str, path: str) -> dict:
    body = spec["paths"][path][method]["requestBody"]
    return resolve(spec, body["content"]["application/json"]["schema"])


def test_request_bodies_come_from_the_views_schemas(spec):
    ticket = body_schema(spec, "post", "/api/v1/tickets")
    assert {"subject", "description", "category"} <= set(ticket["properties"])
    assert {"subject", "description", "category"} <= set(ticket["required"])
    assert spec["paths"]["/api/v1/tickets"]["post"]["requestBody"]["required"] is True
    chat = body_schema(spec, "post", "/api/v1/matches/{match_id}/chat")
    assert "content" in chat["properties"]
    season = body_schema(spec, "post", "/api/v1/leagues/{slug}/seasons/create")
    assert "name" in season["properties"]
    close = body_schema(spec, "post", "/api/v1/tickets/{ticket_id}/close")
    assert close["maxProperties"] == 0
    assert "requestBody" not in spec["paths"]["/api/v1/tickets/{ticket_id}"]["get"]


def test_every_write_operation_documents_a_body(spec):
    missing = [
        (method, path)
        for method, path, operation in operations(spec)
        if method != "GET" and "requestBody" not in operation
    ]
    assert missing == []


def test_errors_share_the_error_details_shape(spec):
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "details"}
    for method, path, operation in operations(spec):
        schema = operation["responses"]["default"]["content"]["application/json"]["schema"]
        assert resolve(spec, schema) is error, (method, path)


def test_the_document_is_built_once_per_app(app, client):
    first = client.get("/api/v1/openapi.json").get_data()
    cached = app.extensions[openapi.EXTENSION]
    assert client.get("/api/v1/openapi.json").get_data() == first
    assert app.extensions[openapi.EXTENSION] is cached
