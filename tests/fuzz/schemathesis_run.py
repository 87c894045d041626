"""schemathesis against a live gunicorn on the demo world: one run per key kind (issue 7).

``.ci/run`` runs ``python tests/fuzz/schemathesis_run.py``; plain pytest never collects it.
For each key kind (personal, game, league) it seeds the demo world into a fresh database,
prepares a few resources in the states the operations need (so each can reach a 2xx), starts
gunicorn on a free port and runs ``schemathesis run`` with every check and every phase (the
stateful one included), a fixed seed, the kind's key in ``Authorization`` and the kind's
operations. The seeded ids are offered to the generator as dictionaries, so valid ids are
tried next to random ones.

Then its NDJSON report is read: every failed check fails the script, except a 400
``error_invalid_request`` refusing schema-valid data for a cross-field rule that JSON Schema
cannot state. Each such rule is in :data:`CROSS_FIELD_RULES`, must be written in its
operation's description, and is listed by name in the summary line. Exit status 0 only
when nothing else failed and every operation was tested.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "/api/v1"
SEED = 20261130


@dataclass(frozen=True)
class CrossFieldRule:
    """A 400 refusing schema-valid data: a rule between fields (or between a field and the
    resource it acts on) that JSON Schema cannot state.

    ``name`` must appear in the operation's description. The 400 carries ``code``; for
    ``error_invalid_request`` its ``details`` may name only ``fields``.
    """

    name: str
    operation: str  # "METHOD /path", relative to /api/v1
    fields: frozenset[str]
    code: str = "error_invalid_request"
    says: str = ""  # a phrase of the 400's details, where fields alone are ambiguous


def rule(name: str, operation: str, *fields: str, says: str = "") -> CrossFieldRule:
    return CrossFieldRule(name, operation, frozenset(fields), says=says)


def code_rule(name: str, operation: str, code: str) -> CrossFieldRule:
    return CrossFieldRule(name, operation, frozenset(), code=code)


TEAM_OF_MATCH = "`teamId`, when given, is a team of this match"
CROSS_FIELD_RULES = [
    rule(
        "`activeRoster` holds 1..`teamSize` distinct members",
        "POST /matches/create",
        "activeRoster",
    ),
    rule("`gameId` is the team's game", "POST /matches/create", "gameId", "challengedTeamId"),
    rule(
        "`activeRoster` holds 1..`teamSize` distinct members",
        "POST /matches/{match_id}/accept",
        "activeRoster",
    ),
    rule("No player may be on both rosters", "POST /matches/{match_id}/accept", "activeRoster"),
    rule(
        "Each roster holds 1..`teamSize` distinct members of its team",
        "POST /game/matches/create",
        "creatorRoster",
        "acceptedRoster",
    ),
    rule(
        "`acceptedTeamId` differs from `creatorTeamId`",
        "POST /game/matches/create",
        "acceptedTeamId",
    ),
    rule(
        "each `mapIndex` below the match's `bestOf`", "POST /game/matches/{match_id}/scores", "maps"
    ),
    rule("A map has a winner", "POST /game/matches/{match_id}/scores", "maps", says="differ"),
    rule(
        "`mapIndex` must be below the match's `bestOf`",
        "POST /matches/{match_id}/scores",
        "mapIndex",
    ),
    rule("A map has a winner", "POST /matches/{match_id}/scores", "opponentTeamScore"),
    rule(
        "`mapIndex` must be below the match's `bestOf`",
        "PATCH /matches/{match_id}/scores",
        "mapIndex",
    ),
    rule("`endDate` is after `startDate`", "POST /leagues/{slug}/seasons/create", "endDate"),
    rule("Only a cancellation takes a `reason`", "PATCH /game/matches/{match_id}/status", "reason"),
    rule("Reporting your own message", "POST /chat/messages/{message_id}/report", "messageId"),
    *(
        code_rule(
            TEAM_OF_MATCH, f"{method} /matches/{{match_id}}/{action}", "error_team_not_in_match"
        )
        for method, action in [
            ("POST", "ready"),
            ("POST", "lobby-code"),
            ("POST", "start"),
            ("POST", "cancel"),
            ("POST", "forfeit"),
            ("POST", "chat"),
            ("POST", "scores"),
            ("PATCH", "scores"),
        ]
    ),
    rule(
        "Every event named must be one the key could read through the API",
        "POST /webhooks",
        "events",
    ),
    code_rule(
        "The URL is http(s) and its host resolves only to global addresses",
        "POST /webhooks",
        "error_webhook_url_not_allowed",
    ),
    code_rule(
        "`forfeitingTeamId` is a team of this match",
        "POST /game/matches/{match_id}/forfeit",
        "error_team_not_in_match",
    ),
]


# -- processes -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_database(database_url: str | None, workdir: Path, name: str) -> str:
    """An empty database: a new SQLite file, or the given PostgreSQL one emptied."""
    if not database_url:
        return f"sqlite:///{workdir / (name + '.sqlite')}"
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return database_url


def seed(database_url: str) -> dict[str, dict[str, str]]:
    env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": database_url}
    out = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "league_api", "demo-seed"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


class Server:
    """gunicorn serving league_api on one database, on a free loopback port."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            # The fuzzer is not a client to throttle: rate limits (where the app has them)
            # would answer its checks with 429s instead of the behaviour under test.
            "FLASK_RATELIMIT_IP": "1000000/second",
            "FLASK_RATELIMIT_KEY": "1000000/second",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{self.port}"]
            + ["league_api:create_app()"],
            env=env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start: see {log}")
            try:
                requests.get(self.origin + PREFIX + "/openapi.json", timeout=1)
                return
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# -- the world each run starts from --------------------------------------------------------------


class Demo:
    """Calls as the demo keys, to put resources in the states the fuzzed operations need."""

    def __init__(self, origin: str, world: dict[str, dict[str, str]]) -> None:
        self.base = origin + PREFIX
        self.world = world
        self.session = requests.Session()

    def call(self, who: str, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.world['keys'][who]}"}
        response = self.session.request(
            method, self.base + path, json=body, headers=headers, timeout=30
        )
        if response.status_code >= 300:
            raise RuntimeError(f"{who} {method} {path}: {response.status_code} {response.text}")
        return response.json()

    def ids(self, kind: str, *names: str) -> list[str]:
        return [self.world[kind][name] for name in names]

    def game_match(self) -> str:
        """alpha vs bravo, created by the game key: ACCEPTED."""
        alpha, bravo = self.ids("teams", "alpha", "bravo")
        body = {
            "creatorTeamId": alpha,
            "acceptedTeamId": bravo,
            "gameModeId": "duel",
            "bestOf": 3,
            "teamSize": 2,
        }
        return self.call("game", "POST", "/game/matches/create", body)["matchId"]

    def ready_match(self) -> str:
        match_id = self.game_match()
        self.call("alice", "POST", f"/matches/{match_id}/ready", {})
        self.call("bob", "POST", f"/matches/{match_id}/ready", {})
        return match_id

    def running_match(self) -> str:
        match_id = self.ready_match()
        self.call("game", "POST", f"/game/matches/{match_id}/start", {})
        return match_id

    def pending_match_by_bob(self) -> str:
        bravo, demo_game = self.world["teams"]["bravo"], self.world["games"]["demo-game"]
        bob = self.world["users"]["bob"]
        body = {
            "teamId": bravo,
            "gameId": demo_game,
            "gameModeId": "duel",
            "teamSize": 2,
            "bestOf": 3,
            "activeRoster": [bob],
        }
        return self.call("bob", "POST", "/matches/create", body)["matchId"]

    def ticket(self) -> str:
        body = {"subject": "Lag", "description": "The lobby lags", "category": "other"}
        return self.call("alice", "POST", "/tickets", body)["ticketId"]

    def personal(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """alice's run: her team alpha, matches in each state, messages by bob, tickets."""
        chat_match = self.game_match()
        message = self.call("bob", "POST", f"/matches/{chat_match}/chat", {"content": "gg"})
        reported = self.call("bob", "POST", f"/matches/{chat_match}/chat", {"content": "ez"})
        self.call("alice", "POST", f"/chat/messages/{reported['messageId']}/report", {})
        scored = self.running_match()
        bob_score = {"mapIndex": 0, "mapId": "dust", "creatorTeamScore": 3, "opponentTeamScore": 5}
        self.call("bob", "POST", f"/matches/{scored}/scores", bob_score)
        dictionaries = {
            "team": self.ids("teams", "alpha"),
            "other_team": self.ids("teams", "bravo", "charlie"),
            "game": self.ids("games", "demo-game"),
            "player": self.ids("users", "alice", "amir"),
            "map": [0, 1, 2],
            "map0": [0],
            "low": [3],
            "high": [5],
            # A global address literal: no DNS needed, and no worker runs to send to it.
            "hook_url": ["https://93.184.215.14/hooks/league"],
            "event": ["match.created", "ticket.created", "chat.message_reported"],
        }
        shared = {
            "body.url": pick("hook_url"),
            "body.events[*]": pick("event"),
            "body.teamId": pick("team"),
            "body.gameId": pick("game"),
            "body.challengedTeamId": pick("other_team"),
            "body.activeRoster[*]": pick("player"),
            "body.mapIndex": pick("map"),
            "body.creatorTeamScore": pick("low"),
            "body.opponentTeamScore": pick("high"),
        }
        states = {
            "POST /matches/{match_id}/accept": self.pending_match_by_bob(),
            "POST /matches/{match_id}/ready": self.game_match(),
            "POST /matches/{match_id}/lobby-code": self.game_match(),
            "POST /matches/{match_id}/start": self.ready_match(),
            "POST /matches/{match_id}/cancel": self.game_match(),
            "POST /matches/{match_id}/forfeit": self.game_match(),
            "POST /matches/{match_id}/attendance": self.game_match(),
            "GET /matches/{match_id}": self.game_match(),
            "POST /matches/{match_id}/scores": self.running_match(),
            "PATCH /matches/{match_id}/scores": scored,
            "GET /matches/{match_id}/scores": scored,
            "POST /matches/{match_id}/chat": chat_match,
            "GET /matches/{match_id}/chat": chat_match,
        }
        operations = {op: {"path.match_id": value} for op, value in states.items()}
        operations["PATCH /matches/{match_id}/scores"]["body.mapIndex"] = pick("map0")
        for op, message_id in [
            ("POST /chat/messages/{message_id}/report", message["messageId"]),
            ("GET /chat/messages/{message_id}", message["messageId"]),
            ("GET /chat/messages/{message_id}/report", reported["messageId"]),
        ]:
            operations[op] = {"path.message_id": message_id}
        for op in (
            "POST /tickets/{ticket_id}/messages",
            "POST /tickets/{ticket_id}/close",
            "GET /tickets/{ticket_id}",
        ):
            operations[op] = {"path.ticket_id": self.ticket()}
        # No fixed webhook id: the operations on one reach their 2xx through the stateful
        # phase's links from the create. A fixed id overrides those links, and once the
        # DELETE (or schemathesis reusing ids it saw in answers) removed it, the read of
        # a webhook just created would be a 404 (ST302).
        return {"dictionaries": dictionaries, "parameters": shared}, operations

    def game(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        dictionaries = {
            "creator": self.ids("teams", "alpha"),
            "accepted": self.ids("teams", "bravo"),
            "team": self.ids("teams", "alpha", "bravo"),
            "creator_player": self.ids("users", "alice", "amir"),
            "accepted_player": self.ids("users", "bob", "bea"),
            "map": [0, 1, 2],
            "low": [3],
            "high": [5],
        }
        shared = {
            "body.creatorTeamId": pick("creator"),
            "body.acceptedTeamId": pick("accepted"),
            "body.forfeitingTeamId": pick("team"),
            "body.creatorRoster[*]": pick("creator_player"),
            "body.acceptedRoster[*]": pick("accepted_player"),
            "body.maps[*].mapIndex": pick("map"),
            "body.maps[*].creatorTeamScore": pick("low"),
            "body.maps[*].opponentTeamScore": pick("high"),
        }
        states = {
            "POST /game/matches/{match_id}/forfeit": self.game_match(),
            "PATCH /game/matches/{match_id}/status": self.ready_match(),
            "POST /game/matches/{match_id}/start": self.ready_match(),
            "POST /game/matches/{match_id}/cancel": self.game_match(),
            "POST /game/matches/{match_id}/scores": self.running_match(),
            "GET /game/matches/{match_id}": self.game_match(),
            "GET /game/matches/{match_id}/rosters": self.game_match(),
        }
        operations = {op: {"path.match_id": value} for op, value in states.items()}
        return {"dictionaries": dictionaries, "parameters": shared}, operations

    def league(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        slug = "demo-league"
        game = self.world["games"]["demo-game"]

        def season(name: str) -> str:
            body = {"gameId": game, "name": name, "startDate": 1, "endDate": 2}
            return self.call("league", "POST", f"/leagues/{slug}/seasons/create", body)["seasonId"]

        upcoming = season("Upcoming")
        active = season("Active")
        self.call("league", "POST", f"/leagues/{slug}/seasons/{active}/activate", {})

        def ticket() -> str:
            body = {"subject": "Venue", "description": "Which venue?"}
            return self.call("league", "POST", f"/leagues/{slug}/tickets/create", body)["ticketId"]

        dictionaries = {"game": [game], "start": [1767225600000], "end": [1798761600000]}
        shared = {
            "path.slug": slug,
            "body.gameId": pick("game"),
            "body.startDate": pick("start"),
            "body.endDate": pick("end"),
        }
        operations = {
            "POST /leagues/{slug}/seasons/{season_id}/activate": {"path.season_id": upcoming},
            "POST /leagues/{slug}/seasons/{season_id}/complete": {"path.season_id": active},
            "GET /leagues/{slug}/seasons/{season_id}": {"path.season_id": season("Read")},
            "POST /leagues/{slug}/tickets/{ticket_id}/reply": {"path.ticket_id": ticket()},
            "GET /leagues/{slug}/tickets/{ticket_id}": {"path.ticket_id": ticket()},
        }
        return {"dictionaries": dictionaries, "parameters": shared}, operations


def pick(dictionary: str, probability: float = 0.8) -> dict[str, Any]:
    """Mostly a seeded id, sometimes whatever the generator makes."""
    return {"dictionary": dictionary, "probability": probability}


@dataclass(frozen=True)
class Run:
    kind: str  # the key kind an operation declares in ``x-api-key``
    who: str  # the demo key in Authorization
    prepare: Callable[[Demo], tuple[dict[str, Any], dict[str, dict[str, Any]]]]


RUNS = [
    Run("personal", "alice", Demo.personal),
    Run("game", "game", Demo.game),
    Run("league", "league", Demo.league),
]
# Operations that need no key (the document itself, the docs page) go with the first run.
PUBLIC_RUN = "personal"
TAG_KIND = {"game": "game", "leagues": "league"}  # a document without x-api-key (before 0.2)


def key_kind(operation: dict[str, Any]) -> str:
    for extension in ("x-required-key", "x-api-key"):
        if extension in operation:
            kind = operation[extension]["kind"]
            return PUBLIC_RUN if kind == "any" else kind  # any kind of key: the first run
    if operation.get("security") == []:
        return PUBLIC_RUN
    return TAG_KIND.get((operation.get("tags") or ["?"])[0], "personal")


# -- one schemathesis run ------------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    return json.dumps(value)


def write_config(
    path: Path,
    key: str,
    shared: dict[str, Any],
    operations: dict[str, dict[str, Any]],
    operation_ids: dict[str, str],
) -> None:
    lines = [f"headers = {{ Authorization = {json.dumps('Bearer ' + key)} }}", ""]
    lines.append("[parameters]")
    lines += [f"{json.dumps(name)} = {toml_value(v)}" for name, v in shared["parameters"].items()]
    lines.append("")
    for name, values in shared["dictionaries"].items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    for operation, parameters in operations.items():
        if operation not in operation_ids:
            raise SystemExit(f"schemathesis_run: {operation} is not in the document")
        lines += [
            "[[operations]]",
            f"include-operation-id = {json.dumps(operation_ids[operation])}",
            f"parameters = {toml_value({**shared['parameters'], **parameters})}",
            "",
        ]
    path.write_text("\n".join(lines))


def operation_index(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """ "METHOD /path" (relative to /api/v1) -> its operation object, for every operation."""
    servers = document.get("servers") or [{"url": "/"}]
    base = servers[0]["url"].rstrip("/")
    index = {}
    for key, item in document["paths"].items():
        relative = (base + key).removeprefix(PREFIX)
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                index[f"{method.upper()} {relative}"] = operation
    return index


def fuzz(
    run: Run, args: argparse.Namespace, workdir: Path, document: dict[str, Any] | None
) -> tuple[Path, dict[str, Any]]:
    database_url = fresh_database(args.database_url, workdir, run.kind)
    world = seed(database_url)
    server = Server(database_url, workdir / f"gunicorn-{run.kind}.log")
    try:
        if document is None:
            document = requests.get(server.origin + PREFIX + "/openapi.json", timeout=10).json()
        index = operation_index(document)
        ids = {name: op["operationId"] for name, op in index.items()}
        shared, operations = run.prepare(Demo(server.origin, world))
        config = workdir / f"schemathesis-{run.kind}.toml"
        write_config(config, world["keys"][run.who], shared, operations, ids)
        report = workdir / f"{run.kind}.ndjson"
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            server.origin + PREFIX + "/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--seed",
            str(SEED),
            "--max-examples",
            str(args.max_examples),
            "--generation-database",
            "none",
            "--workers",
            "1",
            "--request-timeout",
            "10",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(report),
            "--no-color",
            "--output-truncate",
            "true",
        ]
        for operation in index.values():
            if key_kind(operation) == run.kind:
                command += ["--include-operation-id", operation["operationId"]]
        log = workdir / f"schemathesis-{run.kind}.log"
        with open(log, "wb") as out:
            subprocess.run(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT, check=False)
        return report, document
    finally:
        server.stop()


# -- reading the report --------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str
    cases: int = 0
    operations: set[str] = field(default_factory=set)
    reached_2xx: set[str] = field(default_factory=set)
    failures: list[str] = field(default_factory=list)
    tolerated: Counter[tuple[str, str]] = field(default_factory=Counter)
    finished: bool = False


def relative(label: str) -> str:
    method, _, path = label.partition(" ")
    return f"{method} {path.removeprefix(PREFIX)}"


def tolerated_rule(
    operation: str, check: str, status: int, body: Any, index: dict[str, dict[str, Any]]
) -> CrossFieldRule | None:
    """The documented cross-field rule this failure is, if it is one."""
    if check != "positive_data_acceptance" or status != 400 or not isinstance(body, dict):
        return None
    details = body.get("details")
    description = index.get(operation, {}).get("description", "")
    for candidate in CROSS_FIELD_RULES:
        if candidate.operation != operation or body.get("error") != candidate.code:
            continue
        if candidate.code == "error_invalid_request" and not (
            isinstance(details, dict) and details and set(details) <= candidate.fields
        ):
            continue
        if candidate.says not in json.dumps(details):
            continue
        if candidate.name in description:
            return candidate
    return None


def read_report(kind: str, report: Path, index: dict[str, dict[str, Any]]) -> Outcome:
    outcome = Outcome(kind)
    if not report.exists():
        outcome.failures.append(f"{kind}: no report (schemathesis did not run, see its log)")
        return outcome
    for line in report.read_text().splitlines():
        event = json.loads(line)
        name, payload = next(iter(event.items()))
        if name == "EngineFinished":
            outcome.finished = True
        elif name == "NonFatalError":
            outcome.failures.append(f"{kind}: error {json.dumps(payload)[:300]}")
        elif name == "ScenarioFinished":
            recorder = payload["recorder"]
            interactions = recorder.get("interactions", {})
            for case_id, case in recorder.get("cases", {}).items():
                value = case["value"]
                operation = relative(f"{value['method']} {value['path']}")
                response = (interactions.get(case_id) or {}).get("response") or {}
                status = response.get("status_code", 0)
                outcome.cases += 1
                if operation in index:  # not the undocumented methods a check tries
                    outcome.operations.add(operation)
                    if 200 <= status < 300:
                        outcome.reached_2xx.add(operation)
                body = decode(response.get("content"))
                for check in recorder.get("checks", {}).get(case_id, []):
                    if check["status"] != "failure":
                        continue
                    found = tolerated_rule(operation, check["name"], status, body, index)
                    if found is not None:
                        outcome.tolerated[(found.name, operation)] += 1
                        continue
                    failure = check.get("failure_info", {}).get("failure", {})
                    outcome.failures.append(
                        f"{kind}: {operation} {failure.get('code', '')} {check['name']}: "
                        f"{status} {json.dumps(body)[:240]} (case {case_id})"
                    )
    if not outcome.finished:
        outcome.failures.append(f"{kind}: the run did not finish")
    return outcome


def decode(content: Any) -> Any:
    if not isinstance(content, dict) or "$base64" not in content:
        return None
    raw = base64.b64decode(content["$base64"])
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:120].decode("latin-1")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("ST_EXAMPLES", 100)))
    parser.add_argument("--database-url", help="a PostgreSQL database to use (emptied first)")
    parser.add_argument("--keep", type=Path, help="keep logs and reports in this directory")
    parser.add_argument("--only", choices=[run.kind for run in RUNS], action="append")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="schemathesis-"))
    started = time.monotonic()
    outcomes: list[Outcome] = []
    document = None
    try:
        for run in RUNS:
            if args.only and run.kind not in args.only:
                continue
            report, document = fuzz(run, args, workdir, document)
            outcomes.append(read_report(run.kind, report, operation_index(document)))
    finally:
        if args.keep:
            shutil.copytree(workdir, args.keep, dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
    index = operation_index(document or {"paths": {}})
    tested = set().union(*(o.operations for o in outcomes))
    reached = set().union(*(o.reached_2xx for o in outcomes))
    failures = [f for o in outcomes for f in o.failures]
    if not args.only:
        failures += [f"untested: {op}" for op in sorted(set(index) - tested)]
    tolerated: Counter[tuple[str, str]] = Counter()
    for o in outcomes:
        tolerated.update(o.tolerated)
    for line in failures[:60]:
        print("FAIL", line)
    if len(failures) > 60:
        print(f"FAIL ... and {len(failures) - 60} more")
    for (name, operation), count in sorted(tolerated.items()):
        print(f"tolerated cross-field 400: {name!r} on {operation} x{count}")
    no_2xx = sorted(tested - reached)
    if no_2xx:
        print("never a 2xx:", ", ".join(no_2xx))
    runs = ", ".join(
        f"{o.kind} {o.cases} cases/{len(o.operations)} ops ({len(o.reached_2xx)} reached 2xx)"
        for o in outcomes
    )
    names = sorted({name for name, _ in tolerated}) or ["none"]
    print(
        f"schemathesis summary: {runs}; {len(failures)} failures; tolerated cross-field 400s: "
        f"{', '.join(names)}; {time.monotonic() - started:.0f}s, seed {SEED}"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
