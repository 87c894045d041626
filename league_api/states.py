"""The match and season state machines, each one table of allowed actions.

Every endpoint that changes or depends on a state goes through ``apply``; an action not
allowed from the current state is a 409, which is what makes state-guarded endpoints
(start, cancel, close, activate...) safe to retry without an Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from league_api.errors import APIError, MatchNotInValidState, SeasonNotInValidState


@dataclass(frozen=True)
class StateMachine:
    name: str
    error: type[APIError]
    # action -> (states it is allowed from, state it leads to; None keeps the state)
    actions: Mapping[str, tuple[frozenset[str], str | None]]
    final_states: frozenset[str] = frozenset()

    def allows(self, action: str, current: str) -> bool:
        return current in self.actions[action][0]

    def apply(self, action: str, current: str) -> str:
        """The state after ``action``, or 409 when ``current`` does not allow it."""
        allowed_from, target = self.actions[action]
        if current not in allowed_from:
            raise self.error(f"cannot {action.replace('_', ' ')} a {self.name} that is {current}")
        return target or current


PENDING, ACCEPTED, READY, IN_PROGRESS = "PENDING", "ACCEPTED", "READY", "IN_PROGRESS"
COMPLETED, CANCELLED, FORFEITED = "COMPLETED", "CANCELLED", "FORFEITED"
MATCH_STATES = (PENDING, ACCEPTED, READY, IN_PROGRESS, COMPLETED, CANCELLED, FORFEITED)
MATCH_FINAL = frozenset({COMPLETED, CANCELLED, FORFEITED})
_LIVE = frozenset({ACCEPTED, READY, IN_PROGRESS})

MATCH = StateMachine(
    name="match",
    error=MatchNotInValidState,
    final_states=MATCH_FINAL,
    actions={
        "accept": (frozenset({PENDING}), ACCEPTED),
        "mark_ready": (frozenset({ACCEPTED}), None),
        "become_ready": (frozenset({ACCEPTED}), READY),
        "start": (frozenset({READY}), IN_PROGRESS),
        "cancel": (frozenset({PENDING, ACCEPTED, READY}), CANCELLED),
        "game_cancel": (_LIVE, CANCELLED),
        "forfeit": (_LIVE, FORFEITED),
        "set_lobby_code": (_LIVE, None),
        "set_attendance": (frozenset(MATCH_STATES) - MATCH_FINAL, None),
        "submit_score": (frozenset({IN_PROGRESS}), None),
        "confirm_score": (frozenset({IN_PROGRESS}), None),
        "complete": (frozenset({IN_PROGRESS}), COMPLETED),
    },
)

UPCOMING, ACTIVE = "UPCOMING", "ACTIVE"
SEASON_STATES = (UPCOMING, ACTIVE, COMPLETED)

SEASON = StateMachine(
    name="season",
    error=SeasonNotInValidState,
    final_states=frozenset({COMPLETED}),
    actions={
        "activate": (frozenset({UPCOMING}), ACTIVE),
        "complete": (frozenset({ACTIVE}), COMPLETED),
    },
)
