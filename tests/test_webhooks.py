"""Webhooks (issue 10): the outbox holds exactly one event per committed change, each rendered
for the keys allowed to see it; subscriptions, secrets and URL checks through the API."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from conftest import error_of
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from league_api.db import db
from league_api.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription
from league_api.webhooks import delivery, secrets, urls
from league_api.webhooks.events import EVENT_TYPES

RECEIVER = "http://127.0.0.1:9/hook"
SCORE = {"mapId": "dust", "creatorTeamScore": 3, "opponentTeamScore": 16}


@pytest.fixture
def app_config():
    return {"WEBHOOKS_ALLOW_PRIVATE_NETWORKS": True, "WEBHOOKS_SECRET_KEY": "test passphrase"}


def subscribe(api, who: str, events=None, url: str = RECEIVER) -> dict:
    """Subscribe the key to every event it may receive (or those named)."""
    if events is None:
        kind = {"game": "game", "other_game": "game", "league": "league"}.get(who, "personal")
        events = [name for name, event_type in EVENT_TYPES.items() if kind in event_type.reads]
    response = api.post("/webhooks", who, {"url": url, "events": events})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


class Outbox:
    """The outbox as the test sees it: the events added since the last look."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: set[str] = set()

    def rows(self) -> list[WebhookEvent]:
        with self.app.app_context():
            rows = list(db.session.scalars(select(WebhookEvent)))
            db.session.expunge_all()
            return rows

    def new(self) -> Counter:
        fresh = [row for row in self.rows() if row.id not in self.seen]
        self.seen.update(row.id for row in fresh)
        return Counter(row.type for row in fresh)

    def expect(self, *types: str) -> None:
        assert self.new() == Counter(types)


def deliveries(app, subscription_id: str) -> list[dict]:
    """The bodies queued for one subscription, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
        )
        return [json.loads(row.body) for row in rows]


@pytest.fixture
def outbox(app) -> Outbox:
    return Outbox(app)


def ids(api, kind: str, *names: str) -> list[str]:
    return [api.world[kind][name] for name in names]


def personal_match(api, roster=("alice", "amir")) -> str:
    alpha, demo = api.world["teams"]["alpha"], api.world["games"]["demo-game"]
    body = {
        "teamId": alpha,
        "gameId": demo,
        "gameModeId": "duel",
        "teamSize": 2,
        "bestOf": 3,
        "activeRoster": ids(api, "users", *roster),
    }
    response = api.post("/matches/create", "alice", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["matchId"]


def accept_body(api) -> dict:
    return {"teamId": api.world["teams"]["bravo"], "activeRoster": ids(api, "users", "bob", "bea")}


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_json()
    return response.get_json()


# -- the event table, flow by flow ------------------------------------------------------------


def test_personal_match_flow_emits_each_event_of_the_table_once(app, api, outbox):
    subscribed = {who: subscribe(api, who) for who in ("alice", "bob", "carol", "game", "league")}
    outbox.expect()  # subscribing is no event

    match_id = personal_match(api)
    outbox.expect("match.created")
    ok(api.post(f"/matches/{match_id}/accept", "bob", accept_body(api)))
    outbox.expect("match.accepted")
    ok(api.post(f"/matches/{match_id}/ready", "alice"))
    outbox.expect()  # one team ready is no state change
    ok(api.post(f"/matches/{match_id}/ready", "bob"))
    outbox.expect("match.ready")
    ok(api.post(f"/matches/{match_id}/lobby-code", "bob", {"lobbyCode": "LOBBY-42"}))
    ok(api.post(f"/matches/{match_id}/attendance", "amir", {"status": "ATTENDING"}))
    outbox.expect()
    ok(api.post(f"/matches/{match_id}/start", "alice"))
    outbox.expect("match.started")
    for index, submitter, confirmer in ((0, "alice", "bob"), (1, "bob", "alice")):
        ok(api.post(f"/matches/{match_id}/scores", submitter, {"mapIndex": index, **SCORE}))
        outbox.expect("score.submitted")
        ok(api.patch(f"/matches/{match_id}/scores", confirmer, {"mapIndex": index}))
        # The deciding confirmation also ends the series: two events, one request.
        outbox.expect("score.confirmed", *(["match.completed"] if index == 1 else []))

    message = ok(api.post(f"/matches/{match_id}/chat", "amir", {"content": "gg"}), 201)
    outbox.expect()
    path = f"/chat/messages/{message['messageId']}/report"
    ok(api.post(path, "bea", {"reason": "spam"}), 201)
    outbox.expect("chat.message_reported")
    ok(api.post(path, "bea", {"reason": "spam"}))  # reported again: no new report, no event
    outbox.expect()

    cancelled = personal_match(api)
    ok(api.post(f"/matches/{cancelled}/cancel", "alice", {"reason": "no time"}))
    forfeited = personal_match(api)
    ok(api.post(f"/matches/{forfeited}/accept", "bob", accept_body(api)))
    ok(api.post(f"/matches/{forfeited}/forfeit", "bob", {"reason": "sick"}))
    outbox.expect(
        "match.created", "match.cancelled", "match.created", "match.accepted", "match.forfeited"
    )

    ticket = ok(
        api.post(
            "/tickets", "alice", {"subject": "Hi", "description": "Help", "category": "other"}
        ),
        201,
    )
    ok(api.post(f"/tickets/{ticket['ticketId']}/messages", "alice", {"content": "More"}))
    outbox.expect("ticket.created", "ticket.replied")

    # Who received what: the players see the lobby code; carol (not on the match) nothing of it.
    alice = deliveries(app, subscribed["alice"]["webhookId"])
    types = [body["type"] for body in alice]
    assert types.count("match.created") == 3 and "ticket.created" in types
    started = next(body for body in alice if body["type"] == "match.started")
    assert started["data"]["match"]["lobbyCode"] == "LOBBY-42"
    assert started["data"]["match"]["status"] == "IN_PROGRESS"
    assert set(started) == {"type", "timestamp", "data"}
    completed = next(body for body in alice if body["type"] == "match.completed")
    assert completed["data"]["match"]["winnerTeamId"] == api.world["teams"]["bravo"]
    accepted = next(body for body in alice if body["type"] == "match.accepted")
    assert accepted["data"]["match"]["acceptedTeamId"] == api.world["teams"]["bravo"]
    confirmed = [body["data"] for body in alice if body["type"] == "score.confirmed"]
    assert [data["status"] for data in confirmed] == ["IN_PROGRESS", "IN_PROGRESS"]
    assert "chat.message_reported" not in types  # bea's report is hers alone
    bob = [body["type"] for body in deliveries(app, subscribed["bob"]["webhookId"])]
    assert "ticket.created" not in bob and "chat.message_reported" not in bob
    assert bob.count("match.created") == 3  # bravo plays none yet but may accept open matches
    carol = deliveries(app, subscribed["carol"]["webhookId"])
    # carol captains charlie: open matches are hers to read (and accept), without lobby code.
    assert {body["type"] for body in carol} == {"match.created"}
    game = deliveries(app, subscribed["game"]["webhookId"])
    assert [body["type"] for body in game].count("score.confirmed") == 2
    assert next(b for b in game if b["type"] == "match.started")["data"]["match"]["lobbyCode"]
    assert deliveries(app, subscribed["league"]["webhookId"]) == []


def test_game_flow_and_league_flow_emit_each_event_of_the_table_once(app, api, outbox):
    game_sub = subscribe(api, "game")
    other_sub = subscribe(api, "other_game")
    league_sub = subscribe(api, "league")
    alpha, bravo = api.world["teams"]["alpha"], api.world["teams"]["bravo"]
    body = {"creatorTeamId": alpha, "acceptedTeamId": bravo, "gameModeId": "r", "bestOf": 3}
    match_id = ok(api.post("/game/matches/create", "game", {**body, "teamSize": 2}), 201)["matchId"]
    outbox.expect("match.created")
    ok(api.post(f"/matches/{match_id}/ready", "alice"))
    ok(api.post(f"/matches/{match_id}/ready", "bob"))
    outbox.expect("match.ready")
    ok(api.post(f"/game/matches/{match_id}/start", "game"))
    outbox.expect("match.started")
    maps = [{"mapIndex": index, **SCORE} for index in range(3)]
    result = ok(api.post(f"/game/matches/{match_id}/scores", "game", {"maps": maps}))
    assert [item["status"] for item in result["submitted"]] == ["confirmed", "confirmed", "failed"]
    outbox.expect("score.confirmed", "score.confirmed", "match.completed")

    cancelled = ok(api.post("/game/matches/create", "game", {**body, "teamSize": 2}), 201)
    ok(api.patch(f"/game/matches/{cancelled['matchId']}/status", "game", {"status": "CANCELLED"}))
    forfeited = ok(api.post("/game/matches/create", "game", {**body, "teamSize": 2}), 201)
    ok(
        api.post(
            f"/game/matches/{forfeited['matchId']}/forfeit", "game", {"forfeitingTeamId": alpha}
        )
    )
    outbox.expect("match.created", "match.cancelled", "match.created", "match.forfeited")

    seasons = "/leagues/demo-league/seasons"
    season = {"gameId": api.world["games"]["demo-game"], "name": "S1"}
    season |= {"startDate": 1_700_000_000_000, "endDate": 1_800_000_000_000}
    season_id = ok(api.post(f"{seasons}/create", "league", season), 201)["seasonId"]
    ok(api.post(f"{seasons}/{season_id}/activate", "league"))
    ok(api.post(f"{seasons}/{season_id}/complete", "league"))
    outbox.expect("season.created", "season.activated", "season.completed")
    tickets = "/leagues/demo-league/tickets"
    ticket = {"subject": "Maps", "description": "Add one", "priority": "high"}
    ticket_id = ok(api.post(f"{tickets}/create", "league", ticket), 201)["ticketId"]
    ok(api.post(f"{tickets}/{ticket_id}/reply", "league", {"content": "ok", "isInternal": True}))
    outbox.expect("league_ticket.created", "league_ticket.replied")

    game = [body["type"] for body in deliveries(app, game_sub["webhookId"])]
    assert Counter(game) == Counter(
        ["match.created"] * 3
        + ["match.ready", "match.started", "score.confirmed", "score.confirmed"]
        + ["match.completed", "match.cancelled", "match.forfeited"]
    )
    assert deliveries(app, other_sub["webhookId"]) == []  # another game's key sees none
    league = deliveries(app, league_sub["webhookId"])
    assert [body["type"] for body in league] == [
        "season.created",
        "season.activated",
        "season.completed",
        "league_ticket.created",
        "league_ticket.replied",
    ]
    assert league[2]["data"]["season"]["status"] == "COMPLETED"
    assert league[4]["data"]["message"]["isInternal"] is True


def test_every_event_type_of_the_catalogue_is_in_the_docs_table():
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "WEBHOOKS.md").read_text()
    for name in EVENT_TYPES:
        assert f"| `{name}` |" in text, name


# -- nothing for requests that change nothing ------------------------------------------------


def test_keyed_replay_emits_nothing(api, outbox):
    subscribe(api, "alice")
    body = {"subject": "Hi", "description": "Help", "category": "other"}
    first = api.post("/tickets", "alice", body, key="ticket-1")
    again = api.post("/tickets", "alice", body, key="ticket-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    outbox.expect("ticket.created")


def _fail_after_the_transition(monkeypatch, error: Exception) -> None:
    """accept_match emits match.accepted, then the roster step fails."""
    import league_api.domain.personal as personal

    def failing(*args, **kwargs):
        raise error

    monkeypatch.setattr(personal, "set_roster", failing)


@pytest.mark.parametrize("keyed", [False, True])
def test_a_4xx_after_the_transition_emits_nothing(api, app, outbox, monkeypatch, keyed):
    from league_api.errors import InvalidRequest

    subscribe(api, "bob")
    match_id = personal_match(api)
    outbox.expect("match.created")
    _fail_after_the_transition(monkeypatch, InvalidRequest.field("activeRoster", "no"))
    response = api.post(
        f"/matches/{match_id}/accept", "bob", accept_body(api), key="a-1" if keyed else None
    )
    assert error_of(response) == (400, "error_invalid_request")
    outbox.expect()
    with app.app_context():
        assert (
            db.session.scalar(
                select(WebhookDelivery.id).where(WebhookDelivery.event_type == "match.accepted")
            )
            is None
        )


@pytest.mark.parametrize("keyed", [False, True])
def test_a_5xx_after_the_transition_emits_nothing(api, app, outbox, monkeypatch, keyed):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    match_id = personal_match(api)
    outbox.expect("match.created")
    _fail_after_the_transition(monkeypatch, RuntimeError("boom"))
    response = api.post(
        f"/matches/{match_id}/accept", "bob", accept_body(api), key="a-1" if keyed else None
    )
    assert error_of(response) == (500, "error_internal")
    outbox.expect()


@pytest.mark.parametrize("keyed", [False, True])
def test_a_transaction_that_fails_at_commit_emits_nothing(api, app, outbox, keyed):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    subscribe(api, "alice")
    outbox.expect()

    def refuse(session):
        raise RuntimeError("the database refused the commit")

    event.listen(Session, "before_commit", refuse)
    try:
        body = {"subject": "Hi", "description": "Help", "category": "other"}
        response = api.post("/tickets", "alice", body, key="t-1" if keyed else None)
    finally:
        event.remove(Session, "before_commit", refuse)
    assert response.status_code == 500
    outbox.expect()
    assert ok(api.get("/tickets", "alice"))["tickets"] == []


# -- subscriptions --------------------------------------------------------------------------


def test_subscription_lifecycle_and_isolation(api, app):
    created = api.post("/webhooks", "alice", {"url": RECEIVER, "events": ["match.created"]})
    assert created.status_code == 201
    body = created.get_json()
    webhook_id = body["webhookId"]
    assert created.headers["Location"] == f"/api/v1/webhooks/{webhook_id}"
    assert body["secret"].startswith("whsec_")
    assert 24 <= len(base64.b64decode(body["secret"][6:])) <= 64
    listed = ok(api.get("/webhooks", "alice"))["webhooks"]
    assert [item["id"] for item in listed] == [webhook_id]
    one = ok(api.get(f"/webhooks/{webhook_id}", "alice"))["webhook"]
    assert one["events"] == ["match.created"] and one["active"] is True
    assert "secret" not in json.dumps(one).lower().replace("previoussecretexpiresat", "")
    # Another key sees none of it, even the same owner's other key.
    assert ok(api.get("/webhooks", "bob"))["webhooks"] == []
    assert error_of(api.get(f"/webhooks/{webhook_id}", "bob")) == (404, "error_webhook_not_found")
    assert error_of(api.call("DELETE", f"/webhooks/{webhook_id}", "bob")) == (
        404,
        "error_webhook_not_found",
    )
    assert error_of(api.post(f"/webhooks/{webhook_id}/rotate-secret", "bob")) == (
        404,
        "error_webhook_not_found",
    )
    deleted = ok(api.call("DELETE", f"/webhooks/{webhook_id}", "alice"))
    assert deleted["webhookId"] == webhook_id
    assert error_of(api.call("DELETE", f"/webhooks/{webhook_id}", "alice")) == (
        404,
        "error_webhook_not_found",
    )


@pytest.mark.parametrize(
    ("who", "body", "field"),
    [
        ("alice", {"url": RECEIVER, "events": []}, "events"),
        ("alice", {"url": RECEIVER, "events": ["match.exploded"]}, "events"),
        ("alice", {"url": RECEIVER, "events": ["season.created"]}, "events"),
        ("league", {"url": RECEIVER, "events": ["match.created"]}, "events"),
        ("game", {"url": RECEIVER, "events": ["ticket.created"]}, "events"),
        ("alice", {"events": ["match.created"]}, "url"),
        ("alice", {"url": RECEIVER, "events": ["match.created"], "secret": "x"}, "secret"),
    ],
)
def test_create_refuses_bad_bodies(api, who, body, field):
    response = api.post("/webhooks", who, body)
    assert error_of(response) == (400, "error_invalid_request")
    assert field in response.get_json()["details"]


def test_the_webhooks_scope_on_every_key_kind(api, app, runner, world):
    from league_api.auth import issue_key
    from league_api.models import User

    with app.app_context():
        owner = db.session.get(User, world["users"]["alice"])
        readonly = issue_key(
            "r", "personal", owner, {"webhooks": "read", "matches.user_matches": "read"}
        )[1]
        none = issue_key("n", "personal", owner, {"matches.user_matches": "read"})[1]
        db.session.commit()
    body = {"url": RECEIVER, "events": ["match.created"]}
    for key, method, path, status in (
        (readonly, "POST", "/webhooks", 403),
        (readonly, "GET", "/webhooks", 200),
        (none, "GET", "/webhooks", 403),
    ):
        response = api.client.open(
            "/api/v1" + path,
            method=method,
            json=body if method == "POST" else None,
            headers={"Authorization": f"Bearer {key}"},
        )
        assert response.status_code == status, (path, response.get_json())
    for who in ("alice", "game", "league"):
        assert ok(api.get("/webhooks", who))["webhooks"] == []


def test_create_is_not_an_idem_endpoint(api, app):
    body = {"url": RECEIVER, "events": ["match.created"]}
    first = api.post("/webhooks", "alice", body, key="w-1")
    again = api.post("/webhooks", "alice", body, key="w-1")
    assert first.get_json()["secret"] != again.get_json()["secret"]
    assert "Idempotent-Replayed" not in again.headers
    from league_api.models import IdempotencyRecord

    with app.app_context():
        assert db.session.scalar(select(IdempotencyRecord.id)) is None
        assert len(list(db.session.scalars(select(WebhookSubscription.id)))) == 2


def test_secrets_are_stored_only_encrypted(api, app, database_url):
    created = subscribe(api, "alice", ["match.created"])
    rotated = ok(api.post(f"/webhooks/{created['webhookId']}/rotate-secret", "alice"))
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    with engine.connect() as connection:
        row = (
            connection.execute(text(f"SELECT * FROM {WebhookSubscription.__table__.name}"))
            .mappings()
            .one()
        )
    engine.dispose()
    dump = json.dumps({name: str(value) for name, value in row.items()})
    for secret in (created["secret"], rotated["secret"]):
        assert secret not in dump and secret[6:] not in dump
    with app.app_context():
        assert secrets.decrypt(row["secret_encrypted"]) == rotated["secret"]
        assert secrets.decrypt(row["previous_secret_encrypted"]) == created["secret"]
    # Another server key cannot read them: the dump alone forges nothing.
    from league_api import create_app

    other = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "WEBHOOKS_SECRET_KEY": "other",
            "AUTO_INIT_DB": False,
        }
    )
    with other.app_context():
        with pytest.raises(RuntimeError, match="cannot be decrypted"):
            secrets.decrypt(row["secret_encrypted"])
        db.engine.dispose()


def test_after_rotation_old_and_new_both_sign_for_24_hours(api, app):
    created = subscribe(api, "alice", ["match.created"])
    webhook_id = created["webhookId"]
    rotated = ok(api.post(f"/webhooks/{webhook_id}/rotate-secret", "alice"))
    expires = datetime.fromisoformat(rotated["previousSecretExpiresAt"].replace("Z", "+00:00"))
    assert timedelta(hours=23, minutes=59) < expires - datetime.now(UTC) <= timedelta(hours=24)
    body = '{"type":"match.created"}'
    with app.app_context():
        subscription = db.session.get(WebhookSubscription, webhook_id)
        now = datetime.now(UTC)
        signing = delivery.signing_secrets(subscription, now)
        later = delivery.signing_secrets(subscription, now + timedelta(hours=24, seconds=1))
    assert signing == [rotated["secret"], created["secret"]]
    assert later == [rotated["secret"]]
    header = secrets.signature_header("msg_1", now, body, signing)
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(int(now.timestamp()))}
    headers["webhook-signature"] = header
    for secret in (created["secret"], rotated["secret"]):
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secrets.new_secret()).verify(body, headers)


# -- URL safety -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://localhost:8080/hook",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://172.16.5.4/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
        "http://0.0.0.0/",
        "ftp://example.com/",
        "http://user:pw@example.com/",
        "not a url",
    ],
)
def test_urls_to_private_space_are_refused(api, app, url):
    app.config["WEBHOOKS_ALLOW_PRIVATE_NETWORKS"] = False
    response = api.post("/webhooks", "alice", {"url": url, "events": ["match.created"]})
    assert error_of(response) == (400, "error_webhook_url_not_allowed")
    assert "url" in response.get_json()["details"]


def test_public_addresses_pass_the_check_and_the_setting_opens_private_ones():
    assert urls.is_public("93.184.215.14") and urls.is_public("2606:2800:21f:cb07::1")
    target = urls.resolve("https://93.184.215.14:8443/in?x=1", allow_private=False)
    assert (target.port, target.path, target.addresses) == (8443, "/in?x=1", ("93.184.215.14",))
    with pytest.raises(urls.UnsafeURL):
        urls.resolve("http://127.0.0.1:5000/", allow_private=False)
    assert urls.resolve("http://127.0.0.1:5000/", allow_private=True).addresses == ("127.0.0.1",)


def test_the_worker_connects_to_the_address_it_checked(app, monkeypatch):
    """One DNS lookup per attempt: a rebinding answer after the check never reaches connect."""
    import socket as socket_module

    answers = iter(["127.0.0.1", "10.9.9.9"])
    lookups = []

    def getaddrinfo(host, port, *args, **kwargs):
        lookups.append(host)
        return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (next(answers), port))]

    connected = []

    def create_connection(address, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError

    monkeypatch.setattr(urls.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(delivery.socket, "create_connection", create_connection)
    lease = delivery.Lease(
        "d1",
        "msg_d1",
        1,
        1,
        1,
        "http://hooks.example:8080/in",
        "{}",
        [secrets.new_secret()],
        "s1",
        1e12,
    )
    outcome = delivery.send(lease, timeout=1.0, allow_private=True)
    assert (outcome.ok, outcome.error) == (False, "connection_error")
    assert lookups == ["hooks.example"] and connected == [("127.0.0.1", 8080)]


def test_the_verification_snippet_of_the_docs_works():
    """docs/WEBHOOKS.md's few lines of Python accept a real message once and refuse a forgery."""
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "WEBHOOKS.md").read_text()
    snippet = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    secret = secrets.new_secret()
    namespace: dict = {}
    exec(snippet.replace('"whsec_..."', repr(secret)), namespace)  # noqa: S102 - our own docs
    now = datetime.now(UTC)
    body = '{"type":"match.created","timestamp":"2026-11-30T14:00:00.000Z","data":{}}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": secrets.signature_header("msg_1", now, body, [secret]),
    }
    seen: set[str] = set()
    assert namespace["receive"](body.encode(), headers, seen)["type"] == "match.created"
    assert namespace["receive"](body.encode(), headers, seen) is None  # a repeat
    forged = {
        **headers,
        "webhook-signature": secrets.signature_header("msg_1", now, body, [secrets.new_secret()]),
    }
    with pytest.raises(WebhookVerificationError):
        namespace["receive"](body.encode(), forged, set())


def test_a_revoked_key_receives_nothing_more(api, app, runner, outbox):
    alice = subscribe(api, "alice", ["match.created"])
    carol = subscribe(api, "carol", ["match.created"])
    with app.app_context():
        from league_api.models import ApiKey

        key_id = db.session.scalars(select(ApiKey.id).where(ApiKey.name == "carol")).one()
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code == 0
    personal_match(api)  # an open match: both captains could read it
    outbox.expect("match.created")
    assert [body["type"] for body in deliveries(app, alice["webhookId"])] == ["match.created"]
    assert deliveries(app, carol["webhookId"]) == []
