"""API keys: issuing (hashed), Bearer authentication, kinds and scopes."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import g, request
from sqlalchemy import Table, bindparam, select

from league_api.db import db, read_row
from league_api.errors import ApiKeyInvalid, ApiKeyRequired, PermissionDenied
from league_api.idempotency import remember_joined_record
from league_api.idempotency.store import current_records, record_of_caller
from league_api.models import ApiKey, User

KINDS = ("personal", "game", "league")

# Each scope's levels, lowest first; a higher level implies the lower ones.
SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    "matches.user_matches": ("none", "read", "read-write"),
    "matches.team_matches": ("none", "read", "read-write"),
    "game.lifecycle": ("none", "read", "read-write"),
    "game.scores": ("none", "write"),
    "leagues.seasons": ("none", "read", "read-write"),
    "leagues.tickets": ("none", "read", "read-write"),
    "chat.read": ("off", "on"),
    "chat.write": ("off", "on"),
    "tickets.read": ("off", "on"),
    "tickets.write": ("off", "on"),
    "webhooks": ("none", "read", "read-write"),
}
# On/off write scopes that imply their read twin.
IMPLIED_READS = {"chat.read": "chat.write", "tickets.read": "tickets.write"}

PERSONAL_FULL_SCOPES = {
    "matches.user_matches": "read-write",
    "matches.team_matches": "read-write",
    "chat.read": "on",
    "chat.write": "on",
    "tickets.read": "on",
    "tickets.write": "on",
    "webhooks": "read-write",
}


def hash_key(plaintext: str) -> str:
    # Keys carry 256 random bits, so a fast hash cannot be brute-forced; no salt needed.
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def validate_scopes(scopes: dict[str, str]) -> dict[str, str]:
    """Reject unknown scopes and levels (used by the CLI before storing a key)."""
    for name, level in scopes.items():
        if name not in SCOPE_LEVELS:
            raise ValueError(f"unknown scope {name!r}")
        if level not in SCOPE_LEVELS[name]:
            raise ValueError(f"scope {name} takes one of {', '.join(SCOPE_LEVELS[name])}")
    return scopes


def issue_key(
    name: str,
    kind: str,
    owner: User,
    scopes: dict[str, str],
    game_id: str | None = None,
    league_id: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; the plaintext is returned once and never stored."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}")
    if (kind == "game") != (game_id is not None) or (kind == "league") != (league_id is not None):
        raise ValueError("a game key needs a game, a league key a league, a personal key neither")
    plaintext = "lk_" + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        key_hash=hash_key(plaintext),
        prefix=plaintext[:10],
        kind=kind,
        owner_id=owner.id,
        game_id=game_id,
        league_id=league_id,
        scopes=validate_scopes(dict(scopes)),
    )
    db.session.add(key)
    db.session.flush()
    return key, plaintext


def has_scope(scopes: dict[str, Any], name: str, level: str) -> bool:
    levels = SCOPE_LEVELS[name]
    value = scopes.get(name)
    granted = levels.index(value) if value in levels else 0
    if granted >= levels.index(level):
        return True
    implied_by = IMPLIED_READS.get(name)
    return implied_by is not None and scopes.get(implied_by) == "on"


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    """The request's API key as views, domain code and webhooks read it; not an ORM entity.

    Built from one row read per request (revocation applies at once), it costs no Session
    work; code that needs the ``ApiKey`` entity loads it by ``id``.
    """

    id: str
    kind: str
    owner_id: str
    game_id: str | None
    league_id: str | None
    scopes: dict[str, Any]


def authenticate(record_scope_tail: str | None = None) -> AuthenticatedKey:
    """The request's live API key, or 401; looked up once per request.

    With ``record_scope_tail`` (``idempotency.record_scope_tail``), the same statement also
    reads the key's committed record for this request, so a replay costs one round trip.
    """
    context = g._get_current_object()  # one proxied access, not three
    key = context.get("authenticated_key")
    if key is None:
        key = context.authenticated_key = _lookup_key(record_scope_tail)
        context.api_key_id = key.id  # for logs
    return key


_keys = ApiKey.__table__
# Built once: SQLAlchemy reuses its compiled form instead of computing a cache key per request.
# A revoked key matches no row: refused like an unknown one.
_LIVE_KEY_BY_HASH = select(
    _keys.c.id, _keys.c.kind, _keys.c.owner_id, _keys.c.game_id, _keys.c.league_id, _keys.c.scopes
).where(_keys.c.key_hash == bindparam("key_hash"), _keys.c.revoked_at.is_(None))


@functools.cache
def _live_key_and_record(records: Table) -> Any:
    """``_LIVE_KEY_BY_HASH`` with the key's record for the request (PostgreSQL), built once."""
    onclause, columns = record_of_caller(records, _keys.c.id)
    return _LIVE_KEY_BY_HASH.add_columns(*columns).select_from(_keys.outerjoin(records, onclause))


def _lookup_key(record_scope_tail: str | None) -> AuthenticatedKey:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiKeyRequired()
    # Read on every request, never cached: a revoked key is refused at once.
    parameters = {"key_hash": hash_key(token)}
    if record_scope_tail is None:
        row = read_row(_LIVE_KEY_BY_HASH, parameters)
    else:
        parameters["scope_tail"] = record_scope_tail
        row = read_row(_live_key_and_record(current_records()), parameters)
        remember_joined_record(row)
    if row is None:
        raise ApiKeyInvalid()
    return AuthenticatedKey(*row[:5], row[5] or {})


def _parse_requirement(requirement: str) -> tuple[str, str]:
    """``"tickets.write"`` means on; ``"game.lifecycle:read"`` names a level."""
    name, _, level = requirement.partition(":")
    if name not in SCOPE_LEVELS:
        raise ValueError(f"unknown scope {name!r}")
    level = level or SCOPE_LEVELS[name][-1]
    if level not in SCOPE_LEVELS[name]:
        raise ValueError(f"unknown level {level!r} for {name}")
    return name, level


def _check(key: AuthenticatedKey, kind: str, scope_name: str, level: str) -> None:
    if kind != "any" and key.kind != kind:
        raise PermissionDenied(f"this endpoint needs a {kind} key")
    if not has_scope(key.scopes, scope_name, level):
        raise PermissionDenied(f"this key lacks the scope {scope_name} ({level})")


def require_key(kind: str, requirement: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Authenticate, then demand a key of ``kind`` (or ``"any"``) holding ``requirement``."""
    scope_name, level = _parse_requirement(requirement)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = authenticate()
            _check(key, kind, scope_name, level)
            g.api_key = key
            return view(*args, **kwargs)

        # Tells the blueprint's guard to authenticate (and rate-limit the key) before the lock.
        wrapper.requires_key = True  # type: ignore[attr-defined]
        # Read by the OpenAPI document: the key kind and scope each operation needs.
        wrapper.key_requirement = (kind, scope_name, level)  # type: ignore[attr-defined]
        return wrapper

    return decorator


def authorize(view: Callable[..., Any]) -> AuthenticatedKey:
    """The key's kind and scope for a ``require_key`` view, checked before the view is called
    (a guard that answers a replay must refuse a key that lost its scope first)."""
    key = authenticate()
    _check(key, *view.key_requirement)  # type: ignore[attr-defined]
    g.api_key = key
    return key


def current_key() -> AuthenticatedKey:
    return g.api_key


def current_key_id() -> str:
    """The idempotency scope's caller: records never cross API keys."""
    return g.api_key.id
