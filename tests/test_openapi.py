"""GET /api/v1/openapi.json: a public OpenAPI 3.1 document that matches the url_map."""

import json
import re

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from league_api import openapi

IDEM_HEADER = "#/components/parameters/IdempotencyKey"


@pytest.fixture
def spec(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return json.loads(response.get_data(as_text=True))


def api_rules(app):
    """The API's rules, less the docs page (HTML for people, not an operation)."""
    return [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        and not getattr(app.view_functions[rule.endpoint], "openapi_hidden", False)
    ]


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


def test_the_document_is_valid_openapi_3_1(spec):
    validate(spec)


def test_every_operation_has_a_schema_and_an_example_per_success_status(spec):
    for method, path, operation in operations(spec):
        successes = {status: r for status, r in operation["responses"].items() if status < "400"}
        assert successes, (method, path)
        for status, answer in successes.items():
            content = answer["content"]["application/json"]
            assert content["schema"], (method, path, status)
            if path != "/api/v1/openapi.json":
                assert "timestamp" in resolve(spec, content["schema"])["properties"]
                assert "timestamp" in content["example"], (method, path, status)


def test_operation_ids_and_tags_follow_the_area_convention(spec):
    seen = set()
    for method, path, operation in operations(spec):
        area = operation["tags"][0]
        assert area in {
            "game",
            "leagues",
            "matches",
            "scores",
            "chat",
            "tickets",
            "webhooks",
            "meta",
        }
        assert operation["operationId"].startswith(area + "_"), (method, path)
        seen.add(operation["operationId"])
    assert {"tickets_create_ticket", "game_create_match", "meta_openapi_document"} <= seen


def error_codes(operation: dict) -> dict[str, list[str]]:
    return {
        status: answer["content"]["application/json"]["schema"]["properties"]["error"]["enum"]
        for status, answer in operation["responses"].items()
        if status >= "400"
    }


def test_every_operation_lists_its_errors_with_their_codes(app, spec):
    for _method, _path, operation in operations(spec):
        codes = error_codes(operation)
        assert codes["413"] == ["error_payload_too_large"]
        assert codes["500"] == ["error_internal"]
        assert codes["503"] == ["error_service_unavailable"]
        assert "Retry-After" in operation["responses"]["503"]["headers"]
        if operation.get("security") != []:
            assert set(codes["401"]) == {"error_api_key_required", "error_api_key_invalid"}
            assert "error_api_key_permission_denied" in codes["403"]
        if "requestBody" in operation:
            assert codes["415"] == ["error_unsupported_media_type"]
            assert {"error_invalid_json", "error_invalid_request"} <= set(codes["400"])
    for rule in api_rules(app):
        declared = getattr(app.view_functions[rule.endpoint], "declaration", None)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = spec["paths"][openapi_path(rule)][method.lower()]
            for error in declared.raises if declared else ():
                assert error.error_code in error_codes(operation)[str(error.status)], rule


def test_idem_operations_document_their_replay_header_and_409s(app, spec):
    for method, path, operation in operations(spec):
        idem = {"$ref": IDEM_HEADER} in operation["parameters"]
        codes = error_codes(operation)
        in_use = {"error_idempotency_key_conflict", "error_idempotency_key_in_use"}
        assert (in_use <= set(codes.get("409", ()))) == idem, (method, path)
        assert ("error_idempotency_key_invalid" in codes.get("400", ())) == idem
        if idem:
            assert "Retry-After" in operation["responses"]["409"]["headers"]
            for status, answer in operation["responses"].items():
                if status < "400":
                    assert "Idempotent-Replayed" in answer["headers"], (method, path)


@pytest.mark.parametrize(
    "key",
    ["a", "k" * 255, "k" * 256, "", "with space", "comma,key", "tab\tkey", "~!#", "é"],
)
def test_the_idempotency_key_pattern_is_exactly_what_the_server_accepts(api, spec, key):
    header = resolve(spec, {"$ref": IDEM_HEADER})["schema"]
    documented = re.fullmatch(header["pattern"], key) is not None
    body = {"subject": "Key", "description": "check", "category": "other"}
    response = api.post("/tickets", "alice", body, headers={"Idempotency-Key": key})
    refused = response.status_code == 400
    if refused:
        assert response.get_json()["error"] == "error_idempotency_key_invalid"
    # An empty header value is no header at all for the server: both say "no key".
    assert documented != refused or key == "", key


def test_creates_document_location_and_a_link_to_their_read(spec):
    creates = 0
    for _method, _path, operation in operations(spec):
        answer = operation["responses"].get("201")
        if answer is None:
            continue
        creates += 1
        assert answer["headers"]["Location"] == {"$ref": "#/components/headers/Location"}
        link = answer["links"]["read"]
        ids = {op["operationId"] for _, _, op in operations(spec)}
        assert link["operationId"] in ids
    # six creates of API.md, the chat report's first answer, and the webhook create
    assert creates == 8


def test_request_bounds_the_server_enforces_are_documented(spec):
    create = body_schema(spec, "post", "/api/v1/matches/create")
    assert create["additionalProperties"] is False
    assert create["properties"]["teamId"]["pattern"] == "^[^\\u0000]*$"
    assert create["properties"]["teamSize"]["maximum"] == 10
    score = body_schema(spec, "post", "/api/v1/matches/{match_id}/scores")
    assert score["properties"]["mapIndex"]["maximum"] == 2**53 - 1
    listed = {p["name"]: p for p in spec["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    assert listed["cursor"]["schema"]["pattern"] == "^[0-9]{0,15}$"
    assert spec["servers"] == [{"url": "/", "description": "this server"}]


def test_each_operation_names_the_key_kind_and_scope_it_needs(spec):
    create = spec["paths"]["/api/v1/tickets"]["post"]
    assert create["x-required-key"] == {"kind": "personal", "scope": "tickets.write", "level": "on"}
    assert "personal" in create["description"] and "tickets.write" in create["description"]


def test_the_document_is_built_once_per_app(app, client):
    first = client.get("/api/v1/openapi.json").get_data()
    cached = app.extensions[openapi.EXTENSION]
    assert client.get("/api/v1/openapi.json").get_data() == first
    assert app.extensions[openapi.EXTENSION] is cached


class Conformance:
    """Checks each answer of the golden flows against the document: a documented status, the
    body valid under its schema (error codes within the operation's enum), Location when due."""

    def __init__(self, app, api, spec: dict) -> None:
        self.api, self.spec = api, spec
        self.adapter = app.url_map.bind("localhost")
        self.registry = Registry().with_resource(
            "urn:doc", Resource.from_contents(spec, DRAFT202012)
        )
        self.checked: set[tuple[str, str, str]] = set()

    def __call__(self, method: str, path: str, who: str, body=None, **kwargs):
        response = self.api.call(method, path, who, body, **kwargs)
        rule, _ = self.adapter.match("/api/v1" + path.split("?")[0], method, return_rule=True)
        operation = self.spec["paths"][openapi_path(rule)][method.lower()]
        status = str(response.status_code)
        assert status in operation["responses"], (method, path, status)
        answer = operation["responses"][status]
        schema = answer["content"]["application/json"]["schema"]
        validator = Draft202012Validator(_rebase(schema), registry=self.registry)
        errors = [error.message for error in validator.iter_errors(response.get_json())]
        assert errors == [], (method, path, status, errors)
        for name, header in answer.get("headers", {}).items():
            if resolve(self.spec, header).get("required"):
                assert name in response.headers, (method, path, name)
        self.checked.add((method, openapi_path(rule), status))
        return response.get_json()


def _rebase(schema: dict) -> dict:
    """Local ``#/components/...`` references, resolved against the whole document."""
    if isinstance(schema, dict):
        return {
            key: (f"urn:doc{value}" if key == "$ref" else _rebase(value))
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_rebase(item) for item in schema]
    return schema


def test_the_golden_flows_answers_conform_to_the_document(app, api, world, spec):
    from test_golden import FLOWS

    check = Conformance(app, api, spec)
    for flow in FLOWS:
        flow(check, world)
    assert len(check.checked) > 50
