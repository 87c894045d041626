"""Match chat (API.md 5.5): sending, reading and reporting messages."""

from __future__ import annotations

from sqlalchemy import func, select
from test_matches import (
    accept_body,
    accepted_match,
    assert_key_conflict,
    assert_replayed,
    error_of,
    new_match,
    run_concurrently,
    tid,
    uid,
)

from league_api.db import db
from league_api.models import ChatMessage, ChatReport


def send(api, match_id: str, who: str, content: str, **kwargs):
    return api.post(f"/matches/{match_id}/chat", who, {"content": content}, **kwargs)


def new_message(api, match_id: str, who="bob", content="gl hf") -> str:
    response = send(api, match_id, who, content)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["messageId"]


def messages(api, match_id: str, who="alice") -> list[dict]:
    response = api.get(f"/matches/{match_id}/chat", who)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["messages"]


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_chat_send_and_report_flow(api):
    match_id = accepted_match(api)
    sent = send(api, match_id, "bob", "gl hf")
    assert sent.status_code == 201
    message_id = sent.get_json()["messageId"]
    assert sent.get_json()["success"] is True
    assert sent.headers["Location"] == f"/api/v1/chat/messages/{message_id}"
    new_message(api, match_id, "amir", "you too")
    listed = messages(api, match_id, "bea")
    assert [(m["content"], m["senderUserId"], m["teamId"]) for m in listed] == [
        ("gl hf", uid(api, "bob"), tid(api, "bravo")),
        ("you too", uid(api, "amir"), tid(api, "alpha")),
    ]
    assert listed[0]["id"] == message_id and listed[0]["createdAt"].endswith("Z")
    message = api.get(sent.headers["Location"].removeprefix("/api/v1"), "alice").get_json()
    assert message["message"] == listed[0]

    report_path = f"/chat/messages/{message_id}/report"
    report = api.post(report_path, "alice", {"reason": "taunting"})
    assert report.status_code == 201
    body = report.get_json()
    assert body["success"] is True and body["alreadyReported"] is False
    assert report.headers["Location"] == f"/api/v1{report_path}"
    mine = api.get(report_path, "alice").get_json()["report"]
    assert mine == {
        "id": body["reportId"],
        "messageId": message_id,
        "reason": "taunting",
        "createdAt": mine["createdAt"],
    }
    again = api.post(report_path, "alice", {"reason": "still taunting"})
    assert again.status_code == 200 and "Location" not in again.headers
    assert again.get_json()["reportId"] == body["reportId"]
    assert again.get_json()["alreadyReported"] is True
    # Another player's report is a report of its own.
    other = api.post(report_path, "amir")
    assert other.status_code == 201 and other.get_json()["reportId"] != body["reportId"]
    assert count(api.client.application, ChatReport) == 2


def test_members_of_either_team_chat_in_any_state(api):
    match_id = new_match(api)
    # While PENDING only the creator team plays the match.
    assert new_message(api, match_id, "amir", "anyone?")
    assert error_of(send(api, match_id, "bob", "me")) == (403, "error_not_match_participant")
    api.post(f"/matches/{match_id}/accept", "bob", accept_body(api))
    # bea is not on bravo's roster for this match but is a member of the team.
    new_message(api, match_id, "bea", "hi")
    api.post(f"/matches/{match_id}/cancel", "alice")
    new_message(api, match_id, "alice", "next time")
    assert [m["content"] for m in messages(api, match_id)] == ["anyone?", "hi", "next time"]
    assert error_of(send(api, match_id, "carol", "let me in")) == (
        403,
        "error_not_match_participant",
    )
    assert error_of(api.get(f"/matches/{match_id}/chat", "carol")) == (
        403,
        "error_not_match_participant",
    )


def test_chat_errors(api):
    match_id = accepted_match(api)
    for body in ({}, {"content": ""}, {"content": "x" * 256}, {"content": 3}, {"extra": 1}):
        response = api.post(f"/matches/{match_id}/chat", "alice", body)
        assert error_of(response) == (400, "error_invalid_request"), body
    assert send(api, match_id, "alice", "x" * 255).status_code == 201
    assert error_of(send(api, "nope", "alice", "hi")) == (404, "error_match_not_found")
    assert error_of(api.get("/matches/nope/chat", "alice")) == (404, "error_match_not_found")
    named = api.post(f"/matches/{match_id}/chat", "alice", {"content": "x", "teamId": "nope"})
    assert error_of(named) == (400, "error_team_not_in_match")
    wrong_side = {"content": "x", "teamId": tid(api, "bravo")}
    assert error_of(api.post(f"/matches/{match_id}/chat", "alice", wrong_side)) == (
        403,
        "error_not_match_participant",
    )
    assert error_of(api.get("/chat/messages/nope", "alice")) == (404, "error_message_not_found")


def test_chat_scopes(api):
    match_id = accepted_match(api)
    readonly = send(api, match_id, "alice_readonly", "hi")
    assert error_of(readonly) == (403, "error_api_key_permission_denied")
    new_message(api, match_id)
    assert len(messages(api, match_id, "alice_readonly")) == 1
    assert error_of(api.get(f"/matches/{match_id}/chat", "game")) == (
        403,
        "error_api_key_permission_denied",
    )


def test_player_on_both_teams_names_the_side(api, runner):
    result = runner.invoke(
        args=["teams", "create", "delta", "--game", "demo-game"] + ["--captain", "alice"]
    )
    delta = result.stdout.strip()
    match_id = new_match(api, roster=["amir"])
    api.post(
        f"/matches/{match_id}/accept",
        "alice",
        {"teamId": delta, "activeRoster": [uid(api, "alice")]},
    )
    response = send(api, match_id, "alice", "hello me")
    assert error_of(response) == (400, "error_invalid_request")
    assert "teamId" in response.get_json()["details"]
    named = api.post(f"/matches/{match_id}/chat", "alice", {"content": "hi", "teamId": delta})
    assert named.status_code == 201
    assert messages(api, match_id)[0]["teamId"] == delta


def test_report_errors(api):
    match_id = accepted_match(api)
    message_id = new_message(api, match_id, "bob")
    path = f"/chat/messages/{message_id}/report"
    own = api.post(path, "bob")
    assert error_of(own) == (400, "error_invalid_request")
    assert error_of(api.post(path, "carol")) == (403, "error_not_match_participant")
    assert error_of(api.post("/chat/messages/nope/report", "alice")) == (
        404,
        "error_message_not_found",
    )
    assert error_of(api.post(path, "alice", {"reason": "x" * 501})) == (
        400,
        "error_invalid_request",
    )
    assert error_of(api.post(path, "alice_readonly")) == (403, "error_api_key_permission_denied")
    assert error_of(api.get(path, "alice")) == (404, "error_not_found")
    assert error_of(api.get(path, "carol")) == (403, "error_not_match_participant")
    assert count(api.client.application, ChatReport) == 0
    assert api.post(path, "bea", {"reason": "x" * 500}).status_code == 201


def test_chat_send_replays(api):
    match_id = accepted_match(api)
    first = send(api, match_id, "alice", "gg", key="chat-1")
    assert first.status_code == 201
    assert_replayed(first, send(api, match_id, "alice", "gg", key="chat-1"))
    assert_key_conflict(send(api, match_id, "alice", "gg wp", key="chat-1"))
    assert count(api.client.application, ChatMessage) == 1
    # The same key from another API key is its own operation.
    assert (
        send(api, match_id, "bob", "gg", key="chat-1").get_json()["messageId"]
        != (first.get_json()["messageId"])
    )


def test_chat_report_replays(api):
    match_id = accepted_match(api)
    path = f"/chat/messages/{new_message(api, match_id)}/report"
    first = api.post(path, "alice", {"reason": "spam"}, key="report-1")
    assert first.status_code == 201
    # Run again it would answer 200 alreadyReported; the replay is the stored 201.
    again = api.post(path, "alice", {"reason": "spam"}, key="report-1")
    assert_replayed(first, again)
    assert again.get_json()["alreadyReported"] is False
    assert_key_conflict(api.post(path, "alice", {"reason": "ham"}, key="report-1"))
    assert count(api.client.application, ChatReport) == 1


def test_concurrent_reports_by_one_user_make_one(app, api):
    match_id = accepted_match(api)
    path = f"/chat/messages/{new_message(api, match_id)}/report"
    results = run_concurrently(
        app,
        api.world,
        ("first", path, "alice", {"reason": "a"}, "report-a"),
        ("second", path, "alice", {"reason": "b"}, "report-b"),
    )
    first, second = results["first"], results["second"]
    assert (first.status_code, first.get_json()["alreadyReported"]) == (201, False)
    assert (second.status_code, second.get_json()["alreadyReported"]) == (200, True)
    assert second.get_json()["reportId"] == first.get_json()["reportId"]
    assert count(app, ChatReport) == 1
