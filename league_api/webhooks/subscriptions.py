"""Subscription rules shared by the API and the CLI: create, list, find, delete, rotate."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select

from league_api.db import db
from league_api.errors import (
    InvalidRequest,
    WebhookLimitReached,
    WebhookNotFound,
    WebhookURLNotAllowed,
)
from league_api.models import ApiKey, utcnow
from league_api.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)
from league_api.webhooks import secrets, urls
from league_api.webhooks.events import EVENT_TYPES

ROTATION_OVERLAP = timedelta(hours=24)


def check_url(url: str) -> None:
    allow = bool(current_app.config.get("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False))
    try:
        urls.resolve(url, allow)
    except urls.UnsafeURL as error:
        raise WebhookURLNotAllowed({"url": [str(error)]}) from None


def check_events(key: ApiKey, events: list[str]) -> list[str]:
    """Known types this key could ever receive, each once, in the order given."""
    unknown = [name for name in events if name not in EVENT_TYPES]
    if unknown:
        raise InvalidRequest.field("events", f"unknown event types: {unknown}")
    unreadable = [name for name in events if not EVENT_TYPES[name].may_subscribe(key)]
    if unreadable:
        raise InvalidRequest.field(
            "events", f"this key cannot read what these events carry: {unreadable}"
        )
    return list(dict.fromkeys(events))


def create(
    key: ApiKey, url: str, events: list[str], description: str | None
) -> tuple[WebhookSubscription, str]:
    """A new subscription for the key and its secret in plain text (shown once, never kept)."""
    chosen = check_events(key, events)
    limit = int(current_app.config.get("WEBHOOKS_MAX_PER_KEY", 25))
    count = db.session.scalar(
        select(func.count(WebhookSubscription.id)).where(WebhookSubscription.api_key_id == key.id)
    )
    if count >= limit:
        raise WebhookLimitReached(f"a key has at most {limit} webhooks")
    check_url(url)
    secret = secrets.new_secret()
    subscription = WebhookSubscription(
        api_key_id=key.id,
        url=url,
        events=chosen,
        description=description,
        secret_encrypted=secrets.encrypt(secret),
    )
    db.session.add(subscription)
    db.session.flush()
    return subscription, secret


def list_for(key: ApiKey) -> list[WebhookSubscription]:
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.api_key_id == key.id)
        .order_by(WebhookSubscription.id.desc())
    )
    return list(db.session.scalars(query))


def owned(key: ApiKey, webhook_id: str, for_update: bool = False) -> WebhookSubscription:
    """The key's subscription; another key's is as unknown as a missing one."""
    query = select(WebhookSubscription).where(
        WebhookSubscription.id == webhook_id, WebhookSubscription.api_key_id == key.id
    )
    if for_update:
        query = query.with_for_update()
    found = db.session.scalar(query)
    if found is None:
        raise WebhookNotFound()
    return found


def remove(subscription: WebhookSubscription) -> None:
    """Delete it with its deliveries (pending ones are never sent)."""
    deliveries = select(WebhookDelivery.id).where(
        WebhookDelivery.subscription_id == subscription.id
    )
    db.session.execute(delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries)))
    db.session.execute(
        delete(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    )
    db.session.delete(subscription)
    db.session.flush()


def rotate(subscription: WebhookSubscription) -> str:
    """A new secret; the current one keeps signing beside it for 24 hours."""
    secret = secrets.new_secret()
    subscription.previous_secret_encrypted = subscription.secret_encrypted
    subscription.previous_secret_expires_at = utcnow() + ROTATION_OVERLAP
    subscription.secret_encrypted = secrets.encrypt(secret)
    db.session.flush()
    return secret


def recent_attempts(
    subscription: WebhookSubscription, limit: int
) -> list[tuple[WebhookAttempt, WebhookDelivery]]:
    query = (
        select(WebhookAttempt, WebhookDelivery)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookDelivery.subscription_id == subscription.id)
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    )
    return [(row[0], row[1]) for row in db.session.execute(query)]
