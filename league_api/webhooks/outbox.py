"""The transactional outbox: ``emit`` in the domain, fan-out when that transaction commits.

``emit`` adds the event row to the request's own session, so it lives and dies with the
change: inside a view's savepoint a stored 4xx discards it, a 5xx or any rollback discards it,
a keyed replay never runs the view at all. Just before the commit (``before_commit``), each
event still in the session is fanned out to one delivery per subscription allowed to see it,
its body rendered then, when the domain function has finished changing the subject (a
transition is emitted before the winner or the accepting team is set).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from league_api.auth import has_scope
from league_api.db import db
from league_api.models import ApiKey, isoformat, new_id, utcnow
from league_api.models.webhooks import WebhookDelivery, WebhookEvent, WebhookSubscription
from league_api.webhooks.events import EVENT_TYPES

PENDING_EVENTS = "league_api.webhooks.pending"


def _subject_ids(subject: dict[str, Any]) -> dict[str, Any]:
    ids = {}
    for name, value in subject.items():
        if hasattr(value, "id"):
            ids[name + "Id"] = value.id
        elif isinstance(value, str | int):
            ids[name] = value
    return ids


def emit(event_type: str, **subject: Any) -> WebhookEvent:
    """Write the event into the outbox, in the caller's transaction."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event_type!r}")
    subject = EVENT_TYPES[event_type].snapshot(subject)
    session = db.session()
    row = WebhookEvent(
        id=new_id(), type=event_type, subject=_subject_ids(subject), created_at=utcnow()
    )
    session.add(row)
    session.info.setdefault(PENDING_EVENTS, []).append((row, subject))
    return row


def envelope(event_type: str, moment: datetime, data: dict[str, Any]) -> str:
    """The body every attempt sends, byte for byte: ``{"type", "timestamp", "data"}``."""
    payload = {"type": event_type, "timestamp": isoformat(moment), "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=False)


def _live_subscriptions(session: Session) -> list[tuple[WebhookSubscription, ApiKey]]:
    query = (
        select(WebhookSubscription, ApiKey)
        .join(ApiKey, ApiKey.id == WebhookSubscription.api_key_id)
        .where(WebhookSubscription.disabled_at.is_(None), ApiKey.revoked_at.is_(None))
        .order_by(WebhookSubscription.id)
    )
    return [(row[0], row[1]) for row in session.execute(query)]


def fan_out(session: Session, events: list[tuple[WebhookEvent, dict[str, Any]]]) -> None:
    subscriptions = _live_subscriptions(session)
    now = utcnow()
    for row, subject in events:
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
    if not pending:
        return
    # Events added inside a savepoint that was rolled back are no longer in the session.
    live = [(row, subject) for row, subject in pending if row in session]
    if live:
        fan_out(session, live)


@event.listens_for(Session, "after_soft_rollback")
def _forget_on_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:  # the outermost transaction: nothing survives
        session.info.pop(PENDING_EVENTS, None)
