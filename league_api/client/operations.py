"""Every operation of the OpenAPI document, as the client knows it.

One row per (HTTP method, path): the area (the document's tag), the method name (the view's
function name, i.e. the operationId without its area prefix), the kind of operation for the retry
table (``retry.py``), the path parameters in path order, the body fields (required ones
first) or query parameters, and for an unkeyed write whose repeat would not simply be refused,
what a caller who never saw its answer should do. ``tests/test_client_operations.py`` keeps this
table equal to the server's document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from league_api.client.retry import Kind

READ, KEYED, RETRY_SAFE, UNKEYED = Kind.READ, Kind.KEYED, Kind.RETRY_SAFE, Kind.UNKEYED
_PARAMETER = re.compile(r"{([^{}]+)}")


@dataclass(frozen=True)
class Operation:
    area: str
    name: str
    method: str
    path: str  # relative to /api/v1, with {parameters}
    kind: Kind
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    query: tuple[str, ...] = ()
    # For an unkeyed write: what to check and do when its outcome is unknown ({look}: the read).
    unknown_hint: str = ""
    path_parameters: tuple[str, ...] = field(init=False)
    pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_parameters", tuple(_PARAMETER.findall(self.path)))
        pieces = _PARAMETER.split(self.path)  # literal, name, literal, name, ..., literal
        regex = "([^/]+)".join(re.escape(literal) for literal in pieces[::2])
        object.__setattr__(self, "pattern", re.compile(regex + r"\Z"))

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


def _op(area: str, name: str, method: str, path: str, kind: Kind, *fields: str, query=(), hint=""):
    """Fields ending in ``?`` are optional."""
    required = tuple(name for name in fields if not name.endswith("?"))
    optional = tuple(name[:-1] for name in fields if name.endswith("?"))
    return Operation(area, name, method, path, kind, required, optional, tuple(query), hint)


# Create and rotate answer a secret shown once, so they are not Idem endpoints (API.md 9.8), and
# neither is state-guarded: a blind repeat would make a second webhook, or drop a secret.
_CREATED_UNSEEN = (
    "A webhook it made holds a secret you never saw: list {look} and delete (DELETE"
    " /api/v1/webhooks/<id>) each webhook for this URL whose secret you do not hold, then create"
    " it again."
)
_ROTATED_UNSEEN = (
    "Check {look}: if previousSecretExpiresAt is now about 24 hours ahead, it ran and its new"
    " secret is lost; rotate again to get one (the secret before the lost one then stops"
    " signing at once)."
)


# fmt: off
OPERATIONS: tuple[Operation, ...] = (
    _op("game", "create_match", "POST", "/game/matches/create", KEYED,
        "creatorTeamId", "acceptedTeamId", "gameModeId", "bestOf", "teamSize", "region?",
        "platform?", "scheduledAt?", "selectedMaps?", "creatorRoster?", "acceptedRoster?"),
    _op("game", "forfeit_match", "POST", "/game/matches/{match_id}/forfeit", KEYED,
        "forfeitingTeamId", "reason?"),
    _op("game", "set_match_status", "PATCH", "/game/matches/{match_id}/status", UNKEYED,
        "status", "reason?"),
    _op("game", "start_match", "POST", "/game/matches/{match_id}/start", UNKEYED),
    _op("game", "cancel_match", "POST", "/game/matches/{match_id}/cancel", UNKEYED, "reason?"),
    _op("game", "submit_scores", "POST", "/game/matches/{match_id}/scores", UNKEYED, "maps"),
    _op("game", "get_match", "GET", "/game/matches/{match_id}", READ),
    _op("game", "get_rosters", "GET", "/game/matches/{match_id}/rosters", READ),
    _op("game", "list_matches", "POST", "/game/matches", READ, "status?", "limit?", "cursor?"),
    _op("leagues", "create_season", "POST", "/leagues/{slug}/seasons/create", KEYED,
        "gameId", "name", "startDate", "endDate"),
    _op("leagues", "activate_season", "POST", "/leagues/{slug}/seasons/{season_id}/activate",
        UNKEYED),
    _op("leagues", "complete_season", "POST", "/leagues/{slug}/seasons/{season_id}/complete",
        UNKEYED),
    _op("leagues", "get_season", "GET", "/leagues/{slug}/seasons/{season_id}", READ),
    _op("leagues", "list_seasons", "POST", "/leagues/{slug}/seasons", READ, "gameId?", "status?"),
    _op("leagues", "create_league_ticket", "POST", "/leagues/{slug}/tickets/create", KEYED,
        "subject", "description", "priority?"),
    _op("leagues", "reply_league_ticket", "POST", "/leagues/{slug}/tickets/{ticket_id}/reply",
        KEYED, "content", "isInternal?"),
    _op("leagues", "get_league_ticket", "GET", "/leagues/{slug}/tickets/{ticket_id}", READ),
    _op("matches", "create_match", "POST", "/matches/create", KEYED,
        "teamId", "gameId", "gameModeId", "teamSize", "bestOf", "activeRoster",
        "challengedTeamId?", "scheduledAt?", "notes?"),
    _op("matches", "accept_match", "POST", "/matches/{match_id}/accept", KEYED,
        "teamId", "activeRoster"),
    _op("matches", "ready", "POST", "/matches/{match_id}/ready", KEYED, "teamId?"),
    _op("matches", "lobby_code", "POST", "/matches/{match_id}/lobby-code", KEYED,
        "lobbyCode", "teamId?"),
    _op("matches", "start", "POST", "/matches/{match_id}/start", UNKEYED, "teamId?"),
    _op("matches", "cancel", "POST", "/matches/{match_id}/cancel", KEYED, "teamId?", "reason?"),
    _op("matches", "forfeit", "POST", "/matches/{match_id}/forfeit", KEYED, "teamId?", "reason?"),
    _op("matches", "attendance", "POST", "/matches/{match_id}/attendance", KEYED, "status"),
    _op("matches", "get_match", "GET", "/matches/{match_id}", READ),
    _op("scores", "submit_score", "POST", "/matches/{match_id}/scores", RETRY_SAFE,
        "mapIndex", "mapId", "creatorTeamScore", "opponentTeamScore", "teamId?"),
    _op("scores", "confirm_score", "PATCH", "/matches/{match_id}/scores", RETRY_SAFE,
        "mapIndex", "teamId?"),
    _op("scores", "list_scores", "GET", "/matches/{match_id}/scores", READ),
    _op("chat", "send_message", "POST", "/matches/{match_id}/chat", KEYED, "content", "teamId?"),
    _op("chat", "list_messages", "GET", "/matches/{match_id}/chat", READ),
    _op("chat", "get_message", "GET", "/chat/messages/{message_id}", READ),
    _op("chat", "report_message", "POST", "/chat/messages/{message_id}/report", KEYED, "reason?"),
    _op("chat", "get_report", "GET", "/chat/messages/{message_id}/report", READ),
    _op("tickets", "create_ticket", "POST", "/tickets", KEYED,
        "subject", "description", "category"),
    _op("tickets", "add_ticket_message", "POST", "/tickets/{ticket_id}/messages", KEYED,
        "content"),
    _op("tickets", "close_ticket", "POST", "/tickets/{ticket_id}/close", UNKEYED),
    _op("tickets", "list_tickets", "GET", "/tickets", READ, query=("limit", "cursor")),
    _op("tickets", "get_ticket", "GET", "/tickets/{ticket_id}", READ),
    _op("meta", "openapi_document", "GET", "/openapi.json", READ),
    _op("webhooks", "create_webhook", "POST", "/webhooks", UNKEYED,
        "url", "events", "description?", hint=_CREATED_UNSEEN),
    _op("webhooks", "list_webhooks", "GET", "/webhooks", READ),
    _op("webhooks", "get_webhook", "GET", "/webhooks/{webhook_id}", READ),
    # A second DELETE changes nothing and answers 404: idempotent in effect, like a confirm.
    _op("webhooks", "delete_webhook", "DELETE", "/webhooks/{webhook_id}", RETRY_SAFE),
    _op("webhooks", "rotate_secret", "POST", "/webhooks/{webhook_id}/rotate-secret", UNKEYED,
        hint=_ROTATED_UNSEEN),
    _op("webhooks", "list_deliveries", "GET", "/webhooks/{webhook_id}/deliveries", READ,
        query=("limit",)),
)
# fmt: on


def find(method: str, path: str) -> tuple[Operation, tuple[str, ...]] | None:
    """The operation a concrete ``method`` and ``path`` (relative to /api/v1) call, if any."""
    for operation in OPERATIONS:
        if operation.method == method.upper():
            found = operation.pattern.match(path)
            if found:
                return operation, found.groups()
    return None


def check_for(operation: Operation) -> Operation | None:
    """The read that shows whether a write ran: the GET of the longest enclosing path."""
    best = None
    for candidate in OPERATIONS:
        if candidate.method != "GET" or candidate is operation:
            continue
        prefix = candidate.path
        if operation.path == prefix or operation.path.startswith(prefix + "/"):
            if best is None or len(prefix) > len(best.path):
                best = candidate
    return best
