"""league_api.provisioning: what the CLI does, from Python, for a host's own members (~2 s)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from league_api import provisioning
from league_api.auth import hash_key
from league_api.db import db
from league_api.models import ApiKey, Game, Team, User
from league_api.provisioning import ProvisioningError

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def test_a_host_gives_its_member_a_league_account_and_a_key(app):
    with app.app_context():
        with provisioning.transaction():
            user = provisioning.create_user("dana", host_user_id="member-42")
            game = provisioning.create_game("chess", "Chess")
            provisioning.create_league("chess-league", games=[game])
            team = provisioning.create_team("knights", "chess", user)
            issued = provisioning.create_key(
                "web", "personal", user, provisioning.PERSONAL_FULL_SCOPES
            )
        assert provisioning.find_user(host_user_id="member-42").id == user.id
        stored = db.session.get(ApiKey, issued.id)
        assert stored.key_hash == hash_key(issued.key) and issued.key not in stored.key_hash
        assert issued.key.startswith(issued.prefix)
        assert db.session.get(Team, team.id).member_ids() == {user.id}
        user_id = user.id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {issued.key}"}
    created = client.post("/api/v1/tickets", json=TICKET, headers=headers)
    assert created.status_code == 201
    with app.app_context():
        with provisioning.transaction():
            provisioning.revoke_key(issued.id)
    assert client.get("/api/v1/tickets", headers=headers).status_code == 401
    with app.app_context():
        assert db.session.get(User, user_id).host_user_id == "member-42"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (lambda: provisioning.create_user("other", host_user_id="member-1"), "conflicts"),
        (lambda: provisioning.create_user("taken"), "conflicts"),
        (lambda: provisioning.create_team("t", "no-game", "taken"), "no game"),
        (lambda: provisioning.create_key("k", "game", "taken", {}), "game"),
        (lambda: provisioning.create_key("k", "personal", "taken", {"x": "on"}), "x"),
        (lambda: provisioning.find_user(host_user_id="nobody"), "no user"),
        (lambda: provisioning.revoke_key("no-such-key"), "no API key"),
    ],
)
def test_refusals_raise_and_change_nothing(app, action, message):
    with app.app_context():
        with provisioning.transaction():
            provisioning.create_user("taken", host_user_id="member-1")
        with pytest.raises(ProvisioningError, match=message), provisioning.transaction():
            provisioning.create_game("rolled-back")  # undone with the refused change
            action()
        assert db.session.scalar(select(func.count()).select_from(User)) == 1
        assert provisioning.find_user("taken").host_user_id == "member-1"

        assert db.session.scalar(select(func.count()).select_from(Game)) == 0


def test_the_cli_creates_a_user_with_a_host_user_id(app, runner):
    result = runner.invoke(args=["users", "create", "erin", "--host-user-id", "m-7"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert provisioning.find_user(host_user_id="m-7").id == result.stdout.strip()
