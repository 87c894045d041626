"""Tenant isolation (API.md 4, Scope): no sequence of requests by several API keys, with
overlapping Idempotency-Keys and paths, lets one API key receive a response stored for another.

A hypothesis state machine drives random sequences against a model of what each
(API key, path, Idempotency-Key) has stored; ``alice2`` is a second key of alice's, so
records are scoped by the API key and not merely by its owner.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from reliability import PROFILE, size, summary
from sqlalchemy import func, select

from league_api.db import db
from league_api.idempotency import IdempotencyRecord

WRITERS = ["alice", "alice2", "bob", "carol", "amir"]
# Refused at steps 2-3 (scope, kind): never stored, never a replay.
REFUSED = ["alice_readonly", "game"]
IDEMPOTENCY_KEYS = ["k1", "k2"]
TICKET_BODIES = [
    {"subject": "Variant A", "description": "first", "category": "other"},
    {"subject": "Variant B", "description": "second", "category": "billing"},
]
MESSAGE_BODIES = [{"content": "variant A"}, {"content": "variant B"}]
_namespaces = itertools.count()


def add_second_alice_key(runner, world: dict[str, Any]) -> None:
    scopes = [f"--scope={name}" for name in ("tickets.write=on", "tickets.read=on")]
    result = runner.invoke(
        args=["keys", "create", "alice2", "--kind", "personal", "--owner", "alice", *scopes]
    )
    assert result.exit_code == 0, result.output
    world["keys"]["alice2"] = result.stdout.strip().splitlines()[-1]


def test_no_api_key_ever_receives_another_keys_stored_response(api, app, runner, world):
    add_second_alice_key(runner, world)
    owners = {"alice": "alice", "alice2": "alice", "bob": "bob", "carol": "carol"}
    tickets = {}
    for who in ("alice", "bob", "carol"):
        response = api.post("/tickets", who, TICKET_BODIES[0])
        assert response.status_code == 201
        tickets[who] = response.get_json()["ticketId"]
    paths = ["/tickets"] + [f"/tickets/{tid}/messages" for tid in tickets.values()]
    paths.append("/tickets/no-such-ticket/messages")
    path_owner = {f"/tickets/{tid}/messages": who for who, tid in tickets.items()}
    totals = {"requests": 0, "replays": 0, "conflicts": 0, "refused": 0, "sequences": 0}

    def record_count() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(IdempotencyRecord))

    def expected_first_answer(who: str, path: str) -> int:
        if path == "/tickets":
            return 201
        owner = path_owner.get(path)
        return 200 if owner is not None and owner == owners.get(who) else 404

    class Tenants(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            # A fresh key space per sequence: the database outlives the machine.
            self.namespace = f"t{next(_namespaces)}-"
            self.stored: dict[tuple[str, str, str], tuple[int, Any]] = {}
            self.baseline = record_count()
            totals["sequences"] += 1

        @rule(
            who=st.sampled_from(WRITERS * 4 + REFUSED),
            path=st.sampled_from(paths),
            key=st.sampled_from(IDEMPOTENCY_KEYS),
            variant=st.integers(0, 1),
        )
        def send(self, who: str, path: str, key: str, variant: int) -> None:
            body = (TICKET_BODIES if path == "/tickets" else MESSAGE_BODIES)[variant]
            response = api.post(path, who, body, key=self.namespace + key)
            totals["requests"] += 1
            replayed = response.headers.get("Idempotent-Replayed") == "true"
            assert response.status_code < 500
            if who in REFUSED:
                assert response.status_code == 403 and not replayed
                totals["refused"] += 1
                return
            scope = (who, path, key)
            if scope not in self.stored:
                assert not replayed, f"{who} got a replay for a key it never used here"
                assert response.status_code == expected_first_answer(who, path), response.data
                if response.status_code == 201:
                    # The new ticket is the caller's own: its owner can read it.
                    created = response.get_json()["ticketId"]
                    assert api.get(f"/tickets/{created}", who).status_code == 200
                self.stored[scope] = (variant, response)
                return
            first_variant, first = self.stored[scope]
            if variant != first_variant:
                assert response.status_code == 409 and not replayed
                assert response.get_json()["error"] == "error_idempotency_key_conflict"
                totals["conflicts"] += 1
                return
            assert replayed
            assert response.status_code == first.status_code
            assert response.get_data() == first.get_data()
            assert response.headers.get("Location") == first.headers.get("Location")
            totals["replays"] += 1

        @invariant()
        def one_record_per_scope_used(self) -> None:
            # Refused requests store nothing; each (API key, path, key) stores exactly one.
            assert record_count() == self.baseline + len(self.stored)

    run_state_machine_as_test(
        Tenants,
        settings=PROFILE.__class__(
            PROFILE, max_examples=size(15, 300), stateful_step_count=size(50, 100)
        ),
    )
    summary("tenant-isolation", **totals, server_errors=0)
