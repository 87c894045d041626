"""Golden test: the demo flows' responses, field for field, against tests/golden/flows.json.

Every response of the five flows of the contract (plus a few error answers) is normalised and
compared with the checked-in file: ids become stable placeholders that keep identity (the same
id is the same placeholder everywhere, demo ids are named after their demo entity), and times
are checked for their format, then replaced. Any other change of a status, a Location or a
field's name or value fails the test.

Regenerate the file on purpose only: ``LEAGUE_API_GOLDEN_UPDATE=1 pytest tests/test_golden.py``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).parent / "golden" / "flows.json"
ID = re.compile(r"[0-9a-f]{24}")
TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SCHEDULED_MS = 1_700_000_000_000


class Normaliser:
    """Replaces ids by placeholders that keep identity, and times by ``<time>``."""

    def __init__(self, world: dict[str, dict[str, str]]) -> None:
        self.names = {
            value: f"<{group}:{name}>"
            for group in ("users", "teams", "games", "leagues")
            for name, value in world[group].items()
        }
        self.seen: dict[str, str] = {}

    def _id(self, match: re.Match[str]) -> str:
        value = match.group(0)
        if value in self.names:
            return self.names[value]
        return self.seen.setdefault(value, f"<id:{len(self.seen) + 1}>")

    def text(self, value: str) -> str:
        if TIME.fullmatch(value):
            return "<time>"
        return ID.sub(self._id, value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        return value


class Recorder:
    """Sends requests through the ``api`` helper and records each normalised answer."""

    def __init__(self, api) -> None:
        self.api = api
        self.normaliser = Normaliser(api.world)
        self.entries: list[dict[str, Any]] = []

    def __call__(self, method: str, path: str, who: str, body: Any = None, **kwargs: Any):
        response = self.api.call(method, path, who, body, **kwargs)
        payload = response.get_json()
        assert response.mimetype == "application/json", (method, path)
        self.entries.append(
            {
                "request": f"{method} {self.normaliser.text(path)} as {who}",
                "status": response.status_code,
                "location": self.normaliser.text(response.headers.get("Location", "")) or None,
                "replayed": response.headers.get("Idempotent-Replayed"),
                "body": self.normaliser.value(payload),
            }
        )
        return payload


def game_flow(call, world) -> None:
    teams, users = world["teams"], world["users"]
    created = call(
        "POST",
        "/game/matches/create",
        "game",
        {
            "creatorTeamId": teams["alpha"],
            "acceptedTeamId": teams["bravo"],
            "gameModeId": "ranked",
            "bestOf": 3,
            "teamSize": 2,
            "region": "eu",
            "platform": "pc",
            "scheduledAt": SCHEDULED_MS,
            "selectedMaps": ["m1", "m2", "m3"],
            # Named: the default roster is ordered by the members' (random) ids.
            "creatorRoster": [users["alice"], users["amir"]],
            "acceptedRoster": [users["bob"], users["bea"]],
        },
    )
    match = created["matchId"]
    call("GET", f"/game/matches/{match}", "game")
    call("GET", f"/game/matches/{match}/rosters", "game")
    call("POST", f"/matches/{match}/ready", "alice")
    call("POST", f"/matches/{match}/ready", "bob")
    call("PATCH", f"/game/matches/{match}/status", "game", {"status": "IN_PROGRESS"})
    call("POST", f"/game/matches/{match}/start", "game")
    maps = [
        {"mapIndex": 0, "mapId": "m1", "creatorTeamScore": 16, "opponentTeamScore": 3},
        {"mapIndex": 1, "mapId": "m2", "creatorTeamScore": 16, "opponentTeamScore": 10},
        {"mapIndex": 2, "mapId": "m3", "creatorTeamScore": 1, "opponentTeamScore": 16},
    ]
    call("POST", f"/game/matches/{match}/scores", "game", {"maps": maps[:1]})
    call("POST", f"/game/matches/{match}/scores", "game", {"maps": maps})
    call("GET", f"/game/matches/{match}", "game")
    second = call(
        "POST",
        "/game/matches/create",
        "game",
        {
            "creatorTeamId": teams["bravo"],
            "acceptedTeamId": teams["charlie"],
            "gameModeId": "casual",
            "bestOf": 1,
            "teamSize": 2,
            "creatorRoster": [users["bea"]],
        },
    )["matchId"]
    call("POST", f"/game/matches/{second}/forfeit", "game", {"forfeitingTeamId": teams["bravo"]})
    third = call(
        "POST",
        "/game/matches/create",
        "game",
        {
            "creatorTeamId": teams["alpha"],
            "acceptedTeamId": teams["charlie"],
            "gameModeId": "casual",
            "bestOf": 5,
            "teamSize": 3,
            "creatorRoster": [users["amir"], users["alice"]],
        },
    )["matchId"]
    call("POST", f"/game/matches/{third}/cancel", "game", {"reason": "server down"})
    call("POST", "/game/matches", "game", {"limit": 2})
    call("POST", "/game/matches", "game", {"status": "FORFEITED"})
    call("GET", f"/game/matches/{match}", "other_game")
    call("GET", "/game/matches/nosuchmatch", "game")


def league_flow(call, world) -> None:
    game = world["games"]["demo-game"]
    base = "/leagues/demo-league"
    season = call(
        "POST",
        f"{base}/seasons/create",
        "league",
        {"gameId": game, "name": "Spring", "startDate": SCHEDULED_MS, "endDate": SCHEDULED_MS + 1},
    )["seasonId"]
    call("GET", f"{base}/seasons/{season}", "league")
    call("POST", f"{base}/seasons/{season}/activate", "league")
    call("POST", f"{base}/seasons/{season}/activate", "league")
    call("POST", f"{base}/seasons", "league", {"status": "ACTIVE"})
    call("POST", f"{base}/seasons/{season}/complete", "league")
    call("POST", f"{base}/seasons", "league", {})
    ticket = call(
        "POST",
        f"{base}/tickets/create",
        "league",
        {"subject": "Rules", "description": "Overtime?", "priority": "high"},
    )["ticketId"]
    call("POST", f"{base}/tickets/{ticket}/reply", "league", {"content": "Yes"})
    call(
        "POST",
        f"{base}/tickets/{ticket}/reply",
        "league",
        {"content": "staff only", "isInternal": True},
    )
    call("GET", f"{base}/tickets/{ticket}", "league")
    call("GET", "/leagues/nosuchleague/seasons/x", "league")


def personal_and_scores_flow(call, world) -> None:
    users, teams, games = world["users"], world["teams"], world["games"]
    match = call(
        "POST",
        "/matches/create",
        "alice",
        {
            "teamId": teams["alpha"],
            "gameId": games["demo-game"],
            "gameModeId": "ranked",
            "teamSize": 2,
            "bestOf": 3,
            "activeRoster": [users["alice"], users["amir"]],
            "scheduledAt": SCHEDULED_MS,
            "notes": "gg",
        },
    )["matchId"]
    call("GET", f"/matches/{match}", "carol")
    call(
        "POST",
        f"/matches/{match}/accept",
        "bob",
        {"teamId": teams["bravo"], "activeRoster": [users["bob"], users["bea"]]},
    )
    call("POST", f"/matches/{match}/attendance", "amir", {"status": "ATTENDING"})
    call("POST", f"/matches/{match}/ready", "bob")
    call("POST", f"/matches/{match}/ready", "alice")
    call("POST", f"/matches/{match}/lobby-code", "bob", {"lobbyCode": "LOBBY-42"})
    call("POST", f"/matches/{match}/start", "alice")
    call("GET", f"/matches/{match}", "bea")
    score = {"mapIndex": 0, "mapId": "m1", "creatorTeamScore": 3, "opponentTeamScore": 16}
    call("POST", f"/matches/{match}/scores", "alice", score)
    call("PATCH", f"/matches/{match}/scores", "alice", {"mapIndex": 0})
    call("PATCH", f"/matches/{match}/scores", "bob", {"mapIndex": 0})
    call("PATCH", f"/matches/{match}/scores", "bob", {"mapIndex": 1})
    call("GET", f"/matches/{match}/scores", "amir")
    call("POST", f"/matches/{match}/scores", "bob", {**score, "mapIndex": 1})
    call("PATCH", f"/matches/{match}/scores", "alice", {"mapIndex": 1})
    call("GET", f"/matches/{match}/scores", "bea")
    call("GET", f"/matches/{match}", "alice")
    call("POST", f"/matches/{match}/forfeit", "alice", {})
    call("POST", f"/matches/{match}/scores", "amir", score)
    other = call(
        "POST",
        "/matches/create",
        "carol",
        {
            "teamId": teams["charlie"],
            "gameId": games["demo-game"],
            "gameModeId": "casual",
            "teamSize": 1,
            "bestOf": 1,
            "activeRoster": [users["carol"]],
            "challengedTeamId": teams["alpha"],
        },
    )["matchId"]
    call("GET", f"/matches/{other}", "amir")
    call("POST", f"/matches/{other}/cancel", "carol", {"reason": "no time"})
    call("GET", f"/matches/{other}", "bob")


def chat_flow(call, world) -> None:
    teams, games, users = world["teams"], world["games"], world["users"]
    match = call(
        "POST",
        "/game/matches/create",
        "game",
        {
            "creatorTeamId": teams["alpha"],
            "acceptedTeamId": teams["bravo"],
            "gameModeId": "ranked",
            "bestOf": 1,
            "teamSize": 2,
            "creatorRoster": [users["alice"], users["amir"]],
            "acceptedRoster": [users["bea"], users["bob"]],
        },
    )["matchId"]
    del games
    message = call("POST", f"/matches/{match}/chat", "alice", {"content": "glhf"})["messageId"]
    call("POST", f"/matches/{match}/chat", "bea", {"content": "you too"})
    call("GET", f"/matches/{match}/chat", "amir")
    call("GET", f"/chat/messages/{message}", "bob")
    call("POST", f"/chat/messages/{message}/report", "bob", {"reason": "rude"})
    call("POST", f"/chat/messages/{message}/report", "bob", {})
    call("GET", f"/chat/messages/{message}/report", "bob")
    call("POST", f"/chat/messages/{message}/report", "alice", {})
    call("GET", f"/matches/{match}/chat", "carol")


def tickets_flow(call, world) -> None:
    del world
    first = call(
        "POST",
        "/tickets",
        "alice",
        {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"},
    )["ticketId"]
    bill = {"subject": "Bill", "description": "x", "category": "billing"}
    call("POST", "/tickets", "alice", bill)
    call("POST", f"/tickets/{first}/messages", "alice", {"content": "still lagging"})
    call("GET", f"/tickets/{first}", "alice")
    call("GET", "/tickets", "alice", query_string={"limit": "1"})
    call("GET", "/tickets", "alice", query_string={"limit": "1", "cursor": "2"})
    call("POST", f"/tickets/{first}/close", "alice")
    call("POST", f"/tickets/{first}/close", "alice")
    call("POST", f"/tickets/{first}/messages", "alice", {"content": "hello?"})
    call("GET", f"/tickets/{first}", "bob")
    call("GET", "/tickets", "bob")


def keyed_replay(call, world) -> None:
    del world
    body = {"subject": "Keyed", "description": "once", "category": "other"}
    call("POST", "/tickets", "carol", body, key="golden-1")
    call("POST", "/tickets", "carol", body, key="golden-1")
    call("POST", "/tickets", "carol", {**body, "description": "twice"}, key="golden-1")
    call("POST", "/tickets", "carol", body, key="bad,key")
    call("POST", "/tickets", "carol", {"subject": ""})
    call("POST", "/tickets", None, body)
    call("GET", "/tickets", "league")


FLOWS = (game_flow, league_flow, personal_and_scores_flow, chat_flow, tickets_flow, keyed_replay)


def test_demo_flow_responses_match_the_golden_file(api, world):
    recorder = Recorder(api)
    for flow in FLOWS:
        flow(recorder, world)
    recorded = {"entries": recorder.entries}
    if os.environ.get("LEAGUE_API_GOLDEN_UPDATE") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(recorded, indent=1, sort_keys=True) + "\n")
    expected = json.loads(GOLDEN.read_text())
    assert len(recorded["entries"]) == len(expected["entries"])
    for got, want in zip(recorded["entries"], expected["entries"], strict=True):
        assert got == want, want["request"]
