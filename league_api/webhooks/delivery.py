"""The delivery worker: lease, sign, send, record; retries on a schedule; purge.

Several workers may run at once (processes, on SQLite or PostgreSQL). A worker takes one due
delivery at a time by committing a lease (``lease_token + 1``, expiring after twice the
request timeout) *before* its HTTP call, so no transaction is ever held open across the
network. The call is cut off at the timeout, so it ends before the lease does; another worker
takes the delivery only after the lease expired (the first one died). The outcome is written
only while the lease token is still the worker's own (a fencing token): a worker that lost its
lease changes nothing.

Each attempt sends the delivery's stored body (identical bytes, same ``webhook-id``), signed
afresh with the current time and every secret that signs now (two during a rotation).
"""

from __future__ import annotations

import email.utils
import http.client
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, exists, or_, select

from league_api.auth import has_scope
from league_api.db import begin_write, db
from league_api.models import ApiKey, utcnow
from league_api.models.webhooks import (
    CANCELLED,
    FAILED,
    PENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from league_api.webhooks import secrets, urls

log = logging.getLogger(__name__)

USER_AGENT = "league_api-webhooks/1"
# Standard Webhooks' example schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
# 20 h, 24 h; then the delivery has failed.
DEFAULT_SCHEDULE = [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
MAX_RETRY_AFTER_SECONDS = 86400


def settings() -> dict:
    config = current_app.config
    timeout = float(config.get("WEBHOOKS_TIMEOUT_SECONDS", 15))
    return {
        "timeout": timeout,
        "lease": timedelta(seconds=2 * timeout),
        "schedule": [float(s) for s in config.get("WEBHOOKS_RETRY_SCHEDULE", DEFAULT_SCHEDULE)],
        "allow_private": bool(config.get("WEBHOOKS_ALLOW_PRIVATE_NETWORKS", False)),
        "poll": float(config.get("WEBHOOKS_POLL_SECONDS", 1.0)),
    }


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they are UTC."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def signing_secrets(subscription: WebhookSubscription, now: datetime) -> list[str]:
    """The current secret, and the previous one while its overlap lasts."""
    found = [secrets.decrypt(subscription.secret_encrypted)]
    expires = aware(subscription.previous_secret_expires_at)
    if subscription.previous_secret_encrypted and expires is not None and expires > now:
        found.append(secrets.decrypt(subscription.previous_secret_encrypted))
    return found


@dataclass
class Lease:
    delivery_id: str
    webhook_id: str
    token: int
    attempt_id: int
    attempt_number: int
    url: str
    body: str
    signing_secrets: list[str]
    subscription_id: str
    # time.monotonic() when the lease runs out (taken before the lease's own clock reading).
    deadline: float


@dataclass
class Outcome:
    ok: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    duration_ms: int = 0


def _dialect() -> str:
    return db.session.get_bind().dialect.name


def _cancel_reason(subscription: WebhookSubscription | None, key: ApiKey | None) -> str | None:
    if subscription is None or key is None:
        return "subscription_deleted"
    if subscription.disabled_at is not None:
        return "subscription_disabled"
    if key.revoked_at is not None:
        return "key_revoked"
    if not has_scope(key.scopes or {}, "webhooks", "read"):
        return "key_lacks_scope"
    return None


def lease_next() -> Lease | None:
    """Take the next due delivery and commit the lease; None when nothing is due."""
    config = settings()
    begin_write()
    try:
        while True:
            started = time.monotonic()
            now = utcnow()
            query = (
                select(WebhookDelivery)
                .where(
                    WebhookDelivery.status == PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(
                        WebhookDelivery.lease_expires_at.is_(None),
                        WebhookDelivery.lease_expires_at <= now,
                    ),
                )
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(1)
            )
            if _dialect() == "postgresql":
                # Workers pick different rows instead of queueing behind each other's locks.
                query = query.with_for_update(skip_locked=True)
            delivery = db.session.scalar(query)
            if delivery is None:
                db.session.commit()
                return None
            subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
            key = subscription and db.session.get(ApiKey, subscription.api_key_id)
            reason = _cancel_reason(subscription, key)
            if reason is None and delivery.attempt_count >= len(config["schedule"]):
                reason = "attempts_exhausted"  # the last attempt's worker died mid-call
            if reason is not None:
                delivery.status = CANCELLED if reason != "attempts_exhausted" else FAILED
                delivery.completed_at = now
                delivery.lease_expires_at = None
                db.session.flush()
                continue
            assert subscription is not None
            delivery.lease_token += 1
            delivery.attempt_count += 1
            delivery.lease_expires_at = now + config["lease"]
            attempt = WebhookAttempt(
                delivery_id=delivery.id,
                number=delivery.attempt_count,
                lease_token=delivery.lease_token,
                started_at=now,
            )
            db.session.add(attempt)
            db.session.flush()
            lease = Lease(
                delivery_id=delivery.id,
                webhook_id=delivery.webhook_id,
                token=delivery.lease_token,
                attempt_id=attempt.id,
                attempt_number=attempt.number,
                url=subscription.url,
                body=delivery.body,
                signing_secrets=signing_secrets(subscription, now),
                subscription_id=subscription.id,
                deadline=started + config["lease"].total_seconds(),
            )
            db.session.commit()
            return lease
    except BaseException:
        db.session.rollback()
        raise


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; Host stays the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS to the checked address, with SNI and certificate checks for the URL's host."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max((moment - utcnow()).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)


def send(lease: Lease, timeout: float, allow_private: bool) -> Outcome:
    """One signed POST, cut off at ``timeout`` however slowly the receiver answers.

    The call must also end well inside the lease (half a timeout to spare): a worker that
    was held up after taking it sends with less time, or not at all.
    """
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = urls.resolve(lease.url, allow_private)
    except urls.UnsafeURL:
        return Outcome(False, error="url_not_allowed", duration_ms=elapsed())
    timeout = min(timeout, lease.deadline - time.monotonic() - timeout / 2)
    if timeout < 0.05:
        return Outcome(False, error="lease_expiring", duration_ms=elapsed())
    connection_class = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(target.host, target.port, target.addresses[0], timeout)
    now = utcnow()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": lease.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": secrets.signature_header(
            lease.webhook_id, now, lease.body, lease.signing_secrets
        ),
    }

    def cut_off() -> None:
        if connection.sock is not None:
            try:
                connection.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(timeout, cut_off)
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=lease.body.encode("utf-8"), headers=headers)
        response = connection.getresponse()
        status = response.status
        retry_after = _retry_after(response.getheader("Retry-After"))
    except TimeoutError:
        return Outcome(False, error="timeout", duration_ms=elapsed())
    except ssl.SSLError:
        return Outcome(False, error="tls_error", duration_ms=elapsed())
    except (OSError, http.client.HTTPException):
        late = time.monotonic() - started >= timeout
        error = "timeout" if late else "connection_error"
        return Outcome(False, error=error, duration_ms=elapsed())
    finally:
        watchdog.cancel()
        connection.close()
    if 200 <= status < 300:
        return Outcome(True, status, duration_ms=elapsed())
    # Redirects are never followed: a 3xx is a failure like any other non-2xx.
    return Outcome(
        False,
        status,
        error=f"http_{status}",
        retry_after=retry_after if status in (429, 503) else None,
        duration_ms=elapsed(),
    )


def record(lease: Lease, outcome: Outcome) -> bool:
    """Write the outcome if the lease is still ours; False when another worker took over."""
    config = settings()
    begin_write()
    try:
        query = select(WebhookDelivery).where(
            WebhookDelivery.id == lease.delivery_id, WebhookDelivery.lease_token == lease.token
        )
        if _dialect() == "postgresql":
            query = query.with_for_update()
        delivery = db.session.scalar(query)
        if delivery is None:
            db.session.rollback()
            return False
        now = utcnow()
        attempt = db.session.get(WebhookAttempt, lease.attempt_id)
        if attempt is not None:
            attempt.finished_at = now
            attempt.status_code = outcome.status_code
            attempt.duration_ms = outcome.duration_ms
            attempt.error = outcome.error
        delivery.lease_expires_at = None
        schedule = config["schedule"]
        if outcome.ok:
            delivery.status = SUCCEEDED
            delivery.completed_at = now
        elif outcome.status_code == 410:
            # Gone: the receiver asks us to stop; the subscription is disabled.
            delivery.status = FAILED
            delivery.completed_at = now
            subscription = db.session.get(WebhookSubscription, delivery.subscription_id)
            if subscription is not None and subscription.disabled_at is None:
                subscription.disabled_at = now
                subscription.disabled_reason = "receiver answered 410 Gone"
        elif delivery.attempt_count >= len(schedule):
            delivery.status = FAILED
            delivery.completed_at = now
        else:
            delay = schedule[delivery.attempt_count]
            if outcome.retry_after is not None:
                delay = max(delay, outcome.retry_after)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
        db.session.commit()
        return True
    except BaseException:
        db.session.rollback()
        raise


def deliver_one() -> bool:
    """Lease, send and record one due delivery; False when none was due."""
    lease = lease_next()
    if lease is None:
        return False
    config = settings()
    outcome = send(lease, config["timeout"], config["allow_private"])
    if not record(lease, outcome):
        log.warning("delivery %s: lease lost before its outcome was recorded", lease.webhook_id)
    return True


def next_due_in(limit: float) -> float:
    """Seconds until the next pending delivery is due (at most ``limit``)."""
    moment = db.session.scalar(
        select(WebhookDelivery.next_attempt_at)
        .where(WebhookDelivery.status == PENDING)
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(1)
    )
    db.session.rollback()  # end the read transaction: never idle in one
    if moment is None:
        return limit
    return min(max((aware(moment) - utcnow()).total_seconds(), 0.0), limit)


def run(drain: bool = False, should_stop: Callable[[], bool] = lambda: False) -> int:
    """Deliver until stopped (or, with ``drain``, until nothing is due); the count sent."""
    sent = 0
    poll = settings()["poll"]
    while not should_stop():
        if deliver_one():
            sent += 1
            continue
        if drain:
            return sent
        time.sleep(max(next_due_in(poll), 0.01))
    return sent


def redeliver(delivery_id: str) -> WebhookDelivery | None:
    """Make a delivery due now again (same webhook-id and body), whatever its state."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        return None
    delivery.status = PENDING
    delivery.attempt_count = 0
    delivery.next_attempt_at = utcnow()
    delivery.completed_at = None
    return delivery


def purge(retention_seconds: float, batch_size: int = 500) -> int:
    """Delete events older than the retention whose deliveries are all final, in batches."""
    removed = 0
    cutoff = utcnow() - timedelta(seconds=retention_seconds)
    unfinished = exists().where(
        WebhookDelivery.event_id == WebhookEvent.id, WebhookDelivery.status == PENDING
    )
    while True:
        begin_write()
        try:
            ids = list(
                db.session.scalars(
                    select(WebhookEvent.id)
                    .where(WebhookEvent.created_at < cutoff, ~unfinished)
                    .order_by(WebhookEvent.id)
                    .limit(batch_size)
                )
            )
            if ids:
                deliveries = select(WebhookDelivery.id).where(WebhookDelivery.event_id.in_(ids))
                db.session.execute(
                    delete(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(deliveries))
                )
                db.session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id.in_(ids)))
                db.session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(ids)))
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
        removed += len(ids)
        if len(ids) < batch_size:
            return removed
