"""The OpenAPI 3.1 document of ``/api/v1``, built with apispec from the app's own url_map."""

from __future__ import annotations

import re
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema

from league_api import API_PREFIX
from league_api.schemas import chat, empty_body_schema, game, leagues, matches, scores, tickets

EXTENSION = "league_api.openapi"
PUBLIC = frozenset({"api.openapi_document"})
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})

# The schema each view loads from its JSON body, by endpoint: kept here so views stay untouched.
BODIES: dict[str, Schema] = {
    "api.game.create_match": game.game_match_create_schema,
    "api.game.forfeit_match": game.game_forfeit_schema,
    "api.game.set_match_status": game.game_status_schema,
    "api.game.start_match": empty_body_schema,
    "api.game.cancel_match": game.game_cancel_schema,
    "api.game.submit_scores": scores.game_scores_schema,
    "api.game.list_matches": game.game_match_list_schema,
    "api.leagues.create_season": leagues.season_create_schema,
    "api.leagues.activate_season": empty_body_schema,
    "api.leagues.complete_season": empty_body_schema,
    "api.leagues.list_seasons": leagues.season_list_schema,
    "api.leagues.create_league_ticket": leagues.league_ticket_create_schema,
    "api.leagues.reply_league_ticket": leagues.league_ticket_reply_schema,
    "api.matches.create_match": matches.match_create_schema,
    "api.matches.accept_match": matches.match_accept_schema,
    "api.matches.ready": matches.acting_team_schema,
    "api.matches.lobby_code": matches.lobby_code_schema,
    "api.matches.start": matches.acting_team_schema,
    "api.matches.cancel": matches.end_match_schema,
    "api.matches.forfeit": matches.end_match_schema,
    "api.matches.attendance": matches.attendance_schema,
    "api.scores.submit_score": scores.captain_score_schema,
    "api.scores.confirm_score": scores.captain_confirm_schema,
    "api.chat.send_message": chat.chat_send_schema,
    "api.chat.report_message": chat.chat_report_schema,
    "api.tickets.create_ticket": tickets.ticket_create_schema,
    "api.tickets.add_ticket_message": tickets.ticket_message_schema,
    "api.tickets.close_ticket": empty_body_schema,
}
# The schema a read view loads from its query string.
QUERIES: dict[str, Schema] = {"api.tickets.list_tickets": tickets.ticket_list_query_schema}

ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "a contract code, e.g. error_not_found"},
        "details": {"description": "a message, or the field messages of a 400"},
    },
    "required": ["error", "details"],
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Retry-safe key: the first response is stored and replayed for 24 hours.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7E]+$"},
}
_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def document(app: Flask) -> dict[str, Any]:
    """The document for ``app``, built on first use and kept in ``app.extensions``."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = build(app)
    return app.extensions[EXTENSION]


def build(app: Flask) -> dict[str, Any]:
    """Describe every ``/api/v1`` rule of ``app.url_map`` as an OpenAPI 3.1 document."""
    spec = APISpec(
        title="league_api",
        version="1",
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        security=[{"bearer": []}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Error", ERROR)
    spec.components.parameter("IdempotencyKey", "header", IDEMPOTENCY_KEY)
    paths: dict[str, dict[str, Any]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(API_PREFIX + "/"):
            continue
        operations = paths.setdefault(_ARGUMENT.sub(r"{\1}", rule.rule), {})
        for method in sorted(rule.methods - IGNORED_METHODS):
            operations[method.lower()] = _operation(app, rule.endpoint, sorted(rule.arguments))
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _operation(app: Flask, endpoint: str, arguments: list[str]) -> dict[str, Any]:
    view = app.view_functions[endpoint]
    parameters: list[Any] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in arguments
    ]
    if getattr(view, "idempotent", False):
        parameters.append("IdempotencyKey")
    if endpoint in QUERIES:
        parameters.append({"in": "query", "schema": QUERIES[endpoint]})
    operation: dict[str, Any] = {
        "operationId": endpoint,
        "summary": (view.__doc__ or "").strip().split("\n")[0],
        "tags": [endpoint.split(".")[1] if endpoint.count(".") > 1 else "meta"],
        "parameters": parameters,
        "responses": {
            "2XX": {"description": "Success"},
            "default": {
                "description": 'An error: {"error": code, "details": ...}',
                "content": {"application/json": {"schema": "Error"}},
            },
        },
    }
    if endpoint in BODIES:
        schema = BODIES[endpoint]
        # The empty body schema is an anonymous Schema(): inline it rather than name it.
        body = {"type": "object", "maxProperties": 0} if schema is empty_body_schema else schema
        operation["requestBody"] = {
            # An empty body reads as {}: the body is required only if a field is.
            "required": any(field.required for field in schema.fields.values()),
            "content": {"application/json": {"schema": body}},
        }
    if endpoint in PUBLIC:
        operation["security"] = []
    return operation
