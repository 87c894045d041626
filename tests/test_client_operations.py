"""The client's methods are the OpenAPI document's operations, and they work end to end.

The table in ``league_api/client/operations.py`` must equal the document: one method per
operation, named after the view (the operationId without its ``api.{area}.`` or ``{area}_``
prefix), in the area of its tag, with its HTTP method, path, body fields and query parameters.
"""

from __future__ import annotations

import inspect
import re

import httpx
import pytest

from league_api.client import (
    OMIT,
    AuthenticationError,
    IdempotencyConflictError,
    LeagueClient,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from league_api.client.operations import OPERATIONS
from league_api.client.retry import Kind

IDEM_HEADER = {"$ref": "#/components/parameters/IdempotencyKey"}


def method_name(operation_id: str, area: str) -> str:
    """``api.tickets.create_ticket`` (today) or ``tickets_create_ticket`` (H1's form)."""
    if "." in operation_id:
        return operation_id.rsplit(".", 1)[1]
    return operation_id.removeprefix(f"{area}_")


@pytest.mark.parametrize(
    "operation_id, area, name",
    [
        ("api.tickets.create_ticket", "tickets", "create_ticket"),
        ("tickets_create_ticket", "tickets", "create_ticket"),
        ("api.openapi_document", "meta", "openapi_document"),
        ("meta_openapi_document", "meta", "openapi_document"),
    ],
)
def test_method_names_come_from_either_operation_id_form(operation_id, area, name):
    assert method_name(operation_id, area) == name


def document_operations(client) -> dict[tuple[str, str], dict]:
    """(METHOD, path under /api/v1) -> what the client must know of that operation."""
    spec = client.get("/api/v1/openapi.json").get_json()

    def resolve(node: dict) -> dict:
        if "$ref" not in node:
            return node
        *_, section, name = node["$ref"].split("/")
        return spec["components"][section][name]

    found = {}
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            (area,) = operation["tags"]
            body: dict = {}
            if "requestBody" in operation:
                body = resolve(operation["requestBody"]["content"]["application/json"]["schema"])
            parameters = [resolve(p) for p in operation["parameters"]]
            found[(method.upper(), path.removeprefix("/api/v1"))] = {
                "area": area,
                "name": method_name(operation["operationId"], area),
                "path_parameters": {p["name"] for p in parameters if p["in"] == "path"},
                "keyed": IDEM_HEADER in operation["parameters"],
                "required": set(body.get("required", ())),
                "fields": set(body.get("properties", ())),
                "query": {p["name"] for p in parameters if p["in"] == "query"},
            }
    return found


def test_the_client_has_one_method_per_operation_of_the_document(client):
    expected = document_operations(client)
    table = {(op.method, op.path): op for op in OPERATIONS}
    assert sorted(table) == sorted(expected), "update league_api/client/operations.py"
    for key, want in expected.items():
        op = table[key]
        got = {
            "area": op.area,
            "name": op.name,
            "path_parameters": set(op.path_parameters),
            "keyed": op.kind is Kind.KEYED,
            "required": set(op.required),
            "fields": set(op.fields),
            "query": set(op.query),
        }
        assert got == want, key
    assert sum(op.kind is Kind.KEYED for op in OPERATIONS) == 16


def test_each_operations_kind_follows_the_server(app):
    """read: GET or a POST view that writes nothing; retry_safe: the captain score writes and
    DELETEs (a repeat changes nothing, and answers 404)."""
    views = {}
    for rule in app.url_map.iter_rules():
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule).removeprefix("/api/v1")
            views[(method, path)] = app.view_functions[rule.endpoint]
    for op in OPERATIONS:
        view = views[(op.method, op.path)]
        writes = op.method != "GET" and getattr(view, "write_transaction", False)
        if op.kind is Kind.READ:
            assert not writes, op
        elif op.kind is Kind.KEYED:
            assert getattr(view, "idempotent", False), op
        elif op.kind is Kind.RETRY_SAFE:
            assert writes and (op.area == "scores" or op.method == "DELETE"), op
        else:
            assert writes and not getattr(view, "idempotent", False) and op.area != "scores", op
            assert op.method != "DELETE", op


def test_methods_take_path_parameters_in_path_order_and_fields_by_keyword():
    client = LeagueClient("http://league.test", "lk")
    signature = inspect.signature(client.leagues.reply_league_ticket)
    kinds = {name: p.kind for name, p in signature.parameters.items()}
    assert list(kinds)[:2] == ["slug", "ticket_id"]
    assert kinds["content"] is inspect.Parameter.KEYWORD_ONLY
    assert signature.parameters["content"].default is inspect.Parameter.empty
    assert signature.parameters["isInternal"].default is OMIT
    assert signature.parameters["idempotency_key"].default is None
    assert "idempotency_key" not in inspect.signature(client.tickets.close_ticket).parameters
    with pytest.raises(TypeError):
        client.tickets.create_ticket(subject="s", description="d")  # category is required
    with pytest.raises(TypeError):
        client.tickets.create_ticket(subject="s", description="d", category="c", color="red")
    client.close()


# -- end to end, in process: the client on the app through httpx's WSGI transport --------------


@pytest.fixture
def app_config():
    # The webhook test subscribes a local URL; the server refuses those by default.
    return {"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": True, "WEBHOOKS_SECRET_KEY": "test passphrase"}


@pytest.fixture
def connect(app, world):
    clients: list[LeagueClient] = []

    def connect(who: str, **options) -> LeagueClient:
        client = LeagueClient(
            "http://league.test",
            world["keys"][who] if who in world["keys"] else who,
            transport=httpx.WSGITransport(app=app),
            **options,
        )
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


def test_a_keyed_call_replays_with_its_key_and_conflicts_with_another_body(connect):
    alice = connect("alice")
    first = alice.tickets.create_ticket(subject="Lag", description="EU lag", category="other")
    assert first.status == 201 and not first.replayed and first["ticketNumber"] == 1
    assert first.location == f"/api/v1/tickets/{first['ticketId']}"
    again = alice.tickets.create_ticket(
        subject="Lag", description="EU lag", category="other", idempotency_key=first.idempotency_key
    )
    assert again.replayed and dict(again) == dict(first)
    assert again.response.content == first.response.content
    with pytest.raises(IdempotencyConflictError) as raised:
        alice.tickets.create_ticket(
            subject="Other",
            description="x",
            category="other",
            idempotency_key=first.idempotency_key,
        )
    assert (raised.value.status, raised.value.code) == (409, "error_idempotency_key_conflict")
    tickets = alice.tickets.list_tickets(limit=1)
    assert [t["id"] for t in tickets["tickets"]] == [first["ticketId"]]
    assert alice.get(f"/tickets/{first['ticketId']}")["ticket"]["subject"] == "Lag"


def test_errors_come_back_as_their_families(connect):
    alice = connect("alice")
    with pytest.raises(ValidationError) as raised:
        alice.tickets.create_ticket(subject="", description="d", category="nope")
    assert set(raised.value.details) == {"subject", "category"}
    with pytest.raises(NotFoundError) as raised:
        alice.tickets.get_ticket("0" * 24)
    assert raised.value.code == "error_ticket_not_found"
    with pytest.raises(AuthenticationError):
        connect("lk_not_a_key").tickets.list_tickets()
    with pytest.raises(PermissionDeniedError) as raised:
        connect("game").tickets.list_tickets()
    assert raised.value.code == "error_api_key_permission_denied"


def test_a_whole_match_through_the_client(connect, world):
    alice, bob = connect("alice"), connect("bob")
    users, teams = world["users"], world["teams"]
    created = alice.matches.create_match(
        teamId=teams["alpha"],
        gameId=world["games"]["demo-game"],
        gameModeId="5v5",
        teamSize=1,
        bestOf=1,
        activeRoster=[users["alice"]],
        challengedTeamId=teams["bravo"],
    )
    match_id = created["matchId"]
    assert bob.matches.accept_match(match_id, teamId=teams["bravo"], activeRoster=[users["bob"]])[
        "status"
    ]
    assert not alice.matches.ready(match_id)["matchReady"]
    assert bob.matches.ready(match_id)["matchReady"]
    alice.matches.lobby_code(match_id, lobbyCode="EU-4711")
    assert alice.matches.start(match_id)["status"] == "IN_PROGRESS"
    alice.chat.send_message(match_id, content="glhf")
    alice.scores.submit_score(
        match_id, mapIndex=0, mapId="dust", creatorTeamScore=16, opponentTeamScore=9
    )
    assert bob.scores.confirm_score(match_id, mapIndex=0)["scoreStatus"] == "CONFIRMED"
    match = alice.matches.get_match(match_id)["match"]
    assert (match["status"], match["winnerTeamId"]) == ("COMPLETED", teams["alpha"])
    assert alice.scores.list_scores(match_id)["seriesScore"]["creatorMapWins"] == 1
    assert [m["content"] for m in bob.chat.list_messages(match_id)["messages"]] == ["glhf"]
    assert alice.meta.openapi_document()["openapi"].startswith("3.1")


def test_webhooks_through_the_client(connect):
    alice, bob = connect("alice"), connect("bob")
    created = alice.webhooks.create_webhook(
        url="http://127.0.0.1:9/hook", events=["match.created"], description="bot"
    )
    webhook_id = created["webhookId"]
    assert created.status == 201 and created.idempotency_key is None
    assert created["secret"].startswith("whsec_")
    assert created.location == f"/api/v1/webhooks/{webhook_id}"
    assert [w["id"] for w in alice.webhooks.list_webhooks()["webhooks"]] == [webhook_id]
    webhook = alice.webhooks.get_webhook(webhook_id)["webhook"]
    assert (webhook["events"], webhook["previousSecretExpiresAt"]) == (["match.created"], None)
    assert "secret" not in webhook
    rotated = alice.webhooks.rotate_secret(webhook_id)
    assert rotated["secret"] not in (created["secret"], None)
    assert alice.webhooks.list_deliveries(webhook_id, limit=5)["attempts"] == []
    with pytest.raises(NotFoundError):
        bob.webhooks.get_webhook(webhook_id)  # another key's webhook
    assert alice.webhooks.delete_webhook(webhook_id)["webhookId"] == webhook_id
    with pytest.raises(NotFoundError) as raised:
        alice.delete(f"/webhooks/{webhook_id}")  # the generic form: a second DELETE is a 404
    assert raised.value.code == "error_webhook_not_found"
    assert alice.webhooks.list_webhooks()["webhooks"] == []
