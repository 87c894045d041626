"""The transactional outbox: ``emit`` in the domain, fan-out when that transaction commits.

``emit`` writes the event row in the request's own transaction, so it lives and dies with the
change: inside a view's savepoint a stored 4xx discards it, a 5xx or any rollback discards it,
a keyed replay never runs the view at all. Just before the commit (``before_commit``), each
event not rolled back is fanned out to one delivery per subscription allowed to see it,
its body rendered then, when the domain function has finished changing the subject (a
transition is emitted before the winner or the accepting team is set).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, event, insert, literal_column, select
from sqlalchemy.orm import Session

from league_api.auth import has_scope
from league_api.db import db, write_row
from league_api.models import ApiKey, isoformat, new_id, utcnow
from league_api.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription
from league_api.webhooks.events import EVENT_TYPES

PENDING_EVENTS = "league_api.webhooks.pending"

# Whether any subscription is live at all, answered by the event's own INSERT (RETURNING): with
# none, the fan-out at commit has nothing to read (``fan_out_needed``). Spelled out in SQL: a
# subquery in RETURNING would have its columns rendered without their tables.
_ANY_LIVE = literal_column(
    f"EXISTS (SELECT 1 FROM {WebhookSubscription.__tablename__} AS s"
    f" JOIN {ApiKey.__tablename__} AS k ON k.id = s.api_key_id"
    " WHERE s.disabled_at IS NULL AND k.revoked_at IS NULL)",
    Boolean,
)
_INSERT_EVENT = insert(WebhookEvent.__table__).returning(_ANY_LIVE.label("live"))


def _subject_ids(subject: dict[str, Any]) -> dict[str, Any]:
    ids = {}
    for name, value in subject.items():
        if hasattr(value, "id"):
            ids[name + "Id"] = value.id
        elif isinstance(value, str | int):
            ids[name] = value
    return ids


@dataclass(frozen=True)
class Emitted:
    """An event written in this transaction, with what its deliveries are rendered from."""

    id: str
    type: str
    created_at: datetime
    subject: dict[str, Any]
    # The (nested) transaction it was written in: a rollback of that one discards it.
    transaction: Any
    # Whether a live subscription existed when the event was written.
    live: bool


def emit(event_type: str, **subject: Any) -> Emitted:
    """Write the event into the outbox, in the caller's transaction (savepoint included).

    One Core INSERT on the session's connection, not an ORM object: the unit of work's flush
    cost several times the statement itself on every emitting request. It also returns whether
    any subscription is live, so a deployment without one never reads subscriptions at commit.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    subject = EVENT_TYPES[event_type].snapshot(subject)
    session = db.session()
    transaction = session.get_nested_transaction() or session.get_transaction()
    event_id, created_at = new_id(), utcnow()
    values = {
        "id": event_id,
        "type": event_type,
        "subject": _subject_ids(subject),
        "created_at": created_at,
    }
    (live,) = write_row(session.connection(), _INSERT_EVENT, values)
    event = Emitted(event_id, event_type, created_at, subject, transaction, bool(live))
    session.info.setdefault(PENDING_EVENTS, []).append(event)
    return event


def envelope(event_type: str, moment: datetime, data: dict[str, Any]) -> str:
    """The body every attempt sends, byte for byte: ``{"type", "timestamp", "data"}``."""
    payload = {"type": event_type, "timestamp": isoformat(moment), "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=False)


# Built once: its compiled form is reused (no cache key computed per emitting request).
_LIVE_SUBSCRIPTIONS = (
    select(WebhookSubscription, ApiKey)
    .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
    .where(WebhookSubscription.disabled_at.is_(None), ApiKey.revoked_at.is_(None))
    .order_by(WebhookSubscription.id)
)


def _live_subscriptions(session: Session) -> list[tuple[WebhookSubscription, ApiKey]]:
    return [(row[0], row[1]) for row in session.execute(_LIVE_SUBSCRIPTIONS)]


def fan_out(session: Session, events: list[Emitted]) -> None:
    subscriptions = _live_subscriptions(session)
    now = utcnow()
    for row in events:
        subject = row.subject
        event_type = EVENT_TYPES[row.type]
        for subscription, key in subscriptions:
            if row.type not in subscription.events:
                continue
            if not has_scope(key.scopes or {}, "webhooks", "read"):
                continue
            if not event_type.may_subscribe(key):
                continue
            data = event_type.render(key, subject)
            if data is None:
                continue
            session.add(
                WebhookDelivery(
                    id=new_id(),
                    event_id=row.id,
                    subscription_id=subscription.id,
                    event_type=row.type,
                    body=envelope(row.type, row.created_at, data),
                    next_attempt_at=now,
                )
            )


@event.listens_for(Session, "before_commit")
def _fan_out_before_commit(session: Session) -> None:
    pending = session.info.pop(PENDING_EVENTS, None)
    if pending and fan_out_needed(pending):
        fan_out(session, pending)


def fan_out_needed(pending: list[Emitted]) -> bool:
    """Whether any subscription was live when one of these events was written.

    On SQLite the request holds the write lock from before its first event to its commit: no
    subscription can commit in between, so the answer is exact. On PostgreSQL (READ COMMITTED)
    a subscription committed after the event's INSERT is not seen by it; such a subscription
    receives the changes that write their events after it committed (docs/WEBHOOKS.md).
    """
    return any(event.live for event in pending)


def _within(transaction: Any, ended: Any) -> bool:
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: nothing survives
        session.info.pop(PENDING_EVENTS, None)
        return
    # A savepoint rolled back: the events written inside it are gone from the database.
    pending = session.info.get(PENDING_EVENTS)
    if pending:
        pending[:] = [e for e in pending if not _within(e.transaction, previous_transaction)]
