"""The Idem set is exactly API.md section 4's 16 endpoints; every other write is transactional."""

import re

IDEM = {
    ("POST", "/api/v1/game/matches/create"),
    ("POST", "/api/v1/game/matches/<match_id>/forfeit"),
    ("POST", "/api/v1/leagues/<slug>/seasons/create"),
    ("POST", "/api/v1/leagues/<slug>/tickets/create"),
    ("POST", "/api/v1/leagues/<slug>/tickets/<ticket_id>/reply"),
    ("POST", "/api/v1/matches/create"),
    ("POST", "/api/v1/matches/<match_id>/accept"),
    ("POST", "/api/v1/matches/<match_id>/ready"),
    ("POST", "/api/v1/matches/<match_id>/cancel"),
    ("POST", "/api/v1/matches/<match_id>/lobby-code"),
    ("POST", "/api/v1/matches/<match_id>/forfeit"),
    ("POST", "/api/v1/matches/<match_id>/attendance"),
    ("POST", "/api/v1/matches/<match_id>/chat"),
    ("POST", "/api/v1/chat/messages/<message_id>/report"),
    ("POST", "/api/v1/tickets"),
    ("POST", "/api/v1/tickets/<ticket_id>/messages"),
}


def rule_text(rule) -> str:
    """The rule without its converters: ``<api_id:match_id>`` reads ``<match_id>``."""
    return re.sub(r"<[^<>:]+:", "<", rule.rule)


def routes(app, marker: str) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if getattr(app.view_functions[rule.endpoint], marker, False):
            found |= {(method, rule_text(rule)) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_exactly_the_contracts_sixteen_endpoints_are_idempotent(app):
    assert routes(app, "idempotent") == IDEM


def test_every_write_method_runs_in_a_write_transaction(app):
    writes = {
        (method, rule_text(rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"GET", "HEAD", "OPTIONS"}
    }
    # POST reads with a body (lists) are the only writes-by-method that are not writes.
    reads = {
        ("POST", "/api/v1/game/matches"),
        ("POST", "/api/v1/leagues/<slug>/seasons"),
    }
    assert routes(app, "write_transaction") == writes - reads
