"""``@idempotent``: run a write view exactly once per Idempotency-Key."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rfc8785
from flask import Response, current_app, g, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from league_api.errors import (
    IdempotencyKeyConflict,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    InvalidJSON,
)
from league_api.idempotency.fingerprint import fingerprint, scope_hash, scope_tail
from league_api.idempotency.store import (
    Claim,
    ClaimTimeout,
    JoinedRecord,
    PostgresStore,
    SQLiteStore,
    StoredResponse,
    current_records,
    store_for,
)
from league_api.idempotency.transactions import (
    EXTENSION,
    WriteLockTimeout,
    begin_write,
    database_footprint,
    default_engine,
    ensure_write_transaction,
    release_read_connection,
    run_write,
)
from league_api.idempotency.transactions import session as current_session
from league_api.jsonbody import json_object_body

KEY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# Only these are stored and replayed; never Set-Cookie or anything session-bound.
STORED_HEADERS = ("Content-Type", "Location")
# Where a keyed request's outcome is left for the host's logs and metrics: ``flask.g.<this>``
# is one of OUTCOMES (unset for requests without a key).
OUTCOME_ATTRIBUTE = "idempotency_outcome"
OUTCOMES = ("executed", "replayed", "conflict", "in_use")
# ``flask.g`` attribute: the keyed request as ``answer_early`` identified it, for the view's turn.
_EARLY = "idempotency_early"
# ``flask.g`` attribute: the record read with the caller's row (``record_scope_tail``).
_JOINED = "idempotency_joined_record"

Identity = Callable[[], str]


def init_app(
    app: Any, identity: Identity | None = None, blueprint: str | None = None, db: Any = None
) -> None:
    """Set the caller identity used to scope records: the app's default, or one blueprint's.

    A blueprint's identity (league_api: the API key id for its ``api`` blueprint) always wins
    for that blueprint's views, so a host app that sets its own default for its own views can
    never scope API records by it; it also serves as the default until the host sets one.
    """
    app.config.setdefault("IDEMPOTENCY_TTL_SECONDS", 86400)
    app.config.setdefault("IDEMPOTENCY_LOCK_TIMEOUT_MS", 5000)
    app.config.setdefault("IDEMPOTENCY_RETRY_AFTER_SECONDS", 1)
    settings = app.extensions.setdefault(EXTENSION, {"identity": None, "blueprints": {}})
    if db is not None:
        settings["db"] = db
    if blueprint is not None:
        settings["blueprints"][blueprint] = identity
        settings["identity"] = settings["identity"] or identity
    elif identity is not None:
        settings["identity"] = identity


def _outcome(name: str) -> None:
    setattr(g, OUTCOME_ATTRIBUTE, name)


def key_in_use() -> IdempotencyKeyInUse:
    _outcome("in_use")
    return IdempotencyKeyInUse()


def read_key() -> str | None:
    """The request's key, None without the header; 400 for a malformed or repeated one."""
    # One environ lookup: ``getlist`` would walk every header. WSGI servers (gunicorn,
    # werkzeug) join a repeated header into one value with commas (RFC 9110 5.3), so a comma
    # is how a repeated Idempotency-Key reaches us: invalid.
    key = request.headers.get(KEY_HEADER)
    if key is None:
        return None
    repeated = "," in key
    # Visible ASCII (0x21-0x7E): printable ASCII but the space.
    visible = key.isascii() and key.isprintable() and " " not in key
    if repeated or not 1 <= len(key) <= 255 or not visible:
        raise IdempotencyKeyInvalid()
    return key


def begin_write_for_view(view: Callable[..., Any]) -> None:
    """Begin a marked view's write transaction; a lock timeout on a keyed request is a 409.

    A keyed request to an ``@idempotent`` view is left to the decorator: it reads its record
    before taking SQLite's write lock, so a replay or a conflict never waits for the lock.
    """
    if getattr(view, "idempotent", False) and request.headers.get(KEY_HEADER):
        return
    ensure_write_transaction(view)


def idempotent(view: Callable[..., Any] | None = None, *, identity: Identity | None = None):
    """Decorate a write view; usable bare (``@idempotent``) or with ``identity=``."""
    if view is None:
        return functools.partial(idempotent, identity=identity)

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        early = g.pop(_EARLY, None)
        key = early.key if early is not None else read_key()
        body = json_object_body()
        if key is None:
            return run_write(view, *args, **kwargs)
        return _run_keyed(view, args, kwargs, key, body, identity, early)

    wrapper.write_transaction = True  # type: ignore[attr-defined]
    wrapper.idempotent = True  # type: ignore[attr-defined]
    wrapper.idempotency_identity = identity  # type: ignore[attr-defined]
    return wrapper


@dataclass(frozen=True, slots=True)
class _Keyed:
    """A keyed request's operation: its record's scope, its caller and its body's fingerprint."""

    key: str
    scope: str
    caller: str
    fingerprint: str
    # SQLite: what the lock-free read found (nothing, or an expired record); None: not read yet.
    found: Claim | None = None


def _identify(key: str, body: Any, identity: Identity | None) -> _Keyed:
    req = request._get_current_object()  # one proxied access, not four
    try:
        request_fingerprint = fingerprint(body, req.query_string)
    except rfc8785.CanonicalizationError:
        raise InvalidJSON("body holds a value JSON cannot carry") from None
    caller = _caller(identity)
    scope = scope_hash(caller, req.method, req.script_root + req.path, key)
    return _Keyed(key, scope, caller, request_fingerprint)


def _store() -> SQLiteStore | PostgresStore:
    config = current_app.config
    lock_timeout_ms = int(config.get("IDEMPOTENCY_LOCK_TIMEOUT_MS", 5000))
    return store_for(default_engine().dialect.name, current_records(), lock_timeout_ms)


def answer_early(view: Callable[..., Any]) -> Response | None:
    """Steps 4 to 6 of a keyed request to an ``@idempotent`` view, before its transaction.

    For a request guard that runs after authentication and the key's checks: the key's
    format, the body, then the committed record: SQLite's lock-free read, or on PostgreSQL
    the one authentication joined (``record_scope_tail``). A replay or a conflict is answered
    from it at once, without the session or any transaction; otherwise the view runs and its
    decorator carries on from what was found here (PostgreSQL: the claim).
    """
    if not getattr(view, "idempotent", False):
        return None
    key = read_key()
    if key is None:
        return None
    keyed = _identify(key, json_object_body(), getattr(view, "idempotency_identity", None))
    store = _store()
    found: Claim | None = None
    if isinstance(store, SQLiteStore):
        found = store.claim_unlocked(keyed.scope, keyed.fingerprint)
        keyed = _Keyed(keyed.key, keyed.scope, keyed.caller, keyed.fingerprint, found)
    else:
        joined: JoinedRecord | None = g.pop(_JOINED, None)
        if joined is not None and joined.scope == keyed.scope and not joined.expired:
            found = joined.claim(keyed.fingerprint)
    if found is not None and (found.conflict or found.stored is not None):
        release_read_connection()
        _outcome("conflict" if found.conflict else "replayed")
        return _answer_from_record(found)
    setattr(g, _EARLY, keyed)
    return None


def record_scope_tail(view: Callable[..., Any], caller_identity: Identity) -> str | None:
    """For a guard whose own read returns the caller's row (PostgreSQL): the ``scope_tail``
    of this request's record, to join it in that read (``store.record_of_caller``); else None.

    Only for a keyed request to an ``@idempotent`` view scoped by ``caller_identity``. Never
    raises: a malformed key is refused later, in API.md's order.
    """
    if not getattr(view, "idempotent", False) or view.idempotency_identity is not None:
        return None
    if default_engine().dialect.name != "postgresql":
        return None
    try:
        key = read_key()
    except IdempotencyKeyInvalid:
        return None
    if key is None or _request_identity() is not caller_identity:
        return None
    return scope_tail(request.method, request.script_root + request.path, key)


def remember_joined_record(row: Any) -> None:
    """Keep the record ``record_of_caller`` joined to the caller's row, for ``answer_early``."""
    setattr(g, _JOINED, JoinedRecord.of(row))


def _request_identity() -> Identity | None:
    settings = current_app.extensions.get(EXTENSION, {})
    by_blueprint = settings.get("blueprints", {})
    # The innermost blueprint with an identity of its own, else the app's default.
    return next(
        (by_blueprint[name] for name in request.blueprints if name in by_blueprint),
        settings.get("identity"),
    )


def _caller(identity: Identity | None) -> str:
    if identity is None:
        identity = _request_identity()
    if identity is None:
        raise RuntimeError("@idempotent needs an identity: pass identity= or call init_app")
    return str(identity())


def _run_keyed(
    view, args, kwargs, key: str, body: Any, identity: Identity | None, keyed: _Keyed | None
) -> Response:
    if keyed is None:
        keyed = _identify(key, body, identity)
    scope, caller, request_fingerprint = keyed.scope, keyed.caller, keyed.fingerprint
    session = current_session()
    store = _store()
    # A transaction of its own: nothing but the claim (PostgreSQL) precedes the view in it, so a
    # 4xx raised after a statement can undo the whole transaction and claim again, instead of a
    # savepoint around every view (a pair of statements, round trips on PostgreSQL).
    whole_transaction = not _in_transaction(session)
    claim = _claim(store, session, keyed)
    if claim.conflict or claim.stored is not None:
        return _answer_claimed(session, claim)

    _outcome("executed")
    if whole_transaction:
        response, undone = _run_view_alone(session, view, args, kwargs)
        if undone:
            # The view's writes are gone with its transaction; record its 4xx in a new one,
            # unless a duplicate ran and committed in between (then answer from its record).
            claim = _claim_again(store, session, keyed)
            if claim.conflict or claim.stored is not None:
                return _answer_claimed(session, claim)
    else:
        response = _run_view_in_savepoint(view, args, kwargs)
    if response.status_code >= 500:
        session.rollback()
        return response
    config = current_app.config
    header = response.headers.get  # one scan of the headers per stored name, not two
    kept = {name: value for name in STORED_HEADERS if (value := header(name)) is not None}
    stored = StoredResponse(response.status_code, kept, response.get_data())
    ttl = int(config.get("IDEMPOTENCY_TTL_SECONDS", 86400))
    try:
        store.save(session, claim, scope, caller, request_fingerprint, stored, ttl)
    except IntegrityError:
        if not isinstance(store, SQLiteStore) or claim.row_id is not None:
            raise
        return _lost_race(store, session, scope, caller, request_fingerprint)
    session.commit()
    return response


def _claim(store, session, keyed: _Keyed) -> Claim:
    """Replay, conflict, or the right to run the view, holding the write transaction.

    SQLite: the record is read first without the write lock (``read_row``; WAL: the
    read sees the last commit, and a record only ever commits together with its view's
    writes), so replays and conflicts never queue behind writers; ``answer_early`` may have
    read it already. Only a first request takes the lock. A duplicate that committed between
    the read and the lock is caught by the record's unique index when this request saves its
    record (``_lost_race``); an expired record is read again under the lock.
    PostgreSQL: the claim is the first statement (a concurrent duplicate waits on the index).
    """
    scope, caller, request_fingerprint = keyed.scope, keyed.caller, keyed.fingerprint
    sqlite = isinstance(store, SQLiteStore)
    found = keyed.found
    if sqlite and found is None:
        found = store.claim_unlocked(scope, request_fingerprint)
        if found.conflict or found.stored is not None:
            return found
    try:
        begin_write()
    except WriteLockTimeout:
        raise key_in_use() from None
    if sqlite and found.row_id is None:
        return found
    try:
        return store.claim(session.connection(), scope, caller, request_fingerprint)
    except ClaimTimeout:
        session.rollback()
        raise key_in_use() from None


def _in_transaction(session) -> bool:
    # Without creating the request's Session when none exists yet (scoped_session would).
    return session.registry.has() and session().in_transaction()


def _answer_claimed(session, claim: Claim) -> Response:
    release_read_connection()
    session.rollback()  # nothing was written: this only ends the read (or the claim)
    _outcome("conflict" if claim.conflict else "replayed")
    return _answer_from_record(claim)


def _claim_again(store, session, keyed: _Keyed) -> Claim:
    """After a rolled-back view: the write transaction again, and the record read (SQLite,
    under the write lock) or claimed (PostgreSQL) again in it."""
    try:
        begin_write()
        return store.claim(session.connection(), keyed.scope, keyed.caller, keyed.fingerprint)
    except (WriteLockTimeout, ClaimTimeout):
        session.rollback()
        raise key_in_use() from None


def _lost_race(store, session, scope: str, caller: str, request_fingerprint: str) -> Response:
    """A duplicate committed first: undo this run entirely and answer from its record."""
    session.rollback()
    claim = store.claim(session, scope, caller, request_fingerprint)
    session.rollback()
    if not (claim.conflict or claim.stored is not None):
        raise key_in_use()  # the winner's record is gone again already: let the client retry
    _outcome("conflict" if claim.conflict else "replayed")
    return _answer_from_record(claim)


def _answer_from_record(claim: Claim) -> Response:
    if claim.conflict:
        raise IdempotencyKeyConflict()
    stored = claim.stored
    assert stored is not None
    headers = [*stored.headers.items(), (REPLAYED_HEADER, "true")]
    response = Response(stored.body, status=stored.status_code, headers=headers)
    if "Content-Type" not in stored.headers:
        # Werkzeug gave it its default type: the original answer had none.
        del response.headers["Content-Type"]
    return response


def _call_view(session, view, args: tuple, kwargs: dict) -> Response | HTTPException:
    """The view's response, or the 4xx it raised; anything else rolls back and propagates."""
    try:
        return current_app.make_response(view(*args, **kwargs))
    except HTTPException as error:
        if (error.code or 500) < 500:
            return error
        session.rollback()
        raise
    except BaseException:
        session.rollback()
        raise


def _run_view_in_savepoint(view, args: tuple, kwargs: dict) -> Response:
    """Run the view; a raised 4xx becomes the stored answer and its writes are undone."""
    session = current_session()
    savepoint = session.begin_nested()
    outcome = _call_view(session, view, args, kwargs)
    if isinstance(outcome, HTTPException):
        savepoint.rollback()
        return _render_http_error(outcome)
    savepoint.commit()
    return outcome


def _run_view_alone(session, view, args: tuple, kwargs: dict) -> tuple[Response, bool]:
    """Run the view as the whole transaction (after the claim); a raised 4xx undoes its writes.

    A 4xx raised before any write (validation: the usual case; on SQLite also a missing
    resource) keeps the transaction, and its record is saved in it. One raised after a write
    (``database_footprint``: on PostgreSQL after any statement) rolls the whole transaction
    back (True).
    """
    footprint = database_footprint()
    outcome = _call_view(session, view, args, kwargs)
    if not isinstance(outcome, HTTPException):
        return outcome, False
    wrote = database_footprint() != footprint or session.new or session.dirty or session.deleted
    if wrote:
        session.rollback()
    return _render_http_error(outcome), bool(wrote)


def _render_http_error(error: HTTPException) -> Response:
    handled = current_app.handle_http_exception(error)
    if isinstance(handled, HTTPException):
        return handled.get_response()
    return current_app.make_response(handled)
