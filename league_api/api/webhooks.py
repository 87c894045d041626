"""Webhook subscriptions: any key kind, scope ``webhooks`` (read / read-write).

Not Idem endpoints: creating and rotating answer with a secret, which a stored answer would
keep in plain text for a day. Create is not state-guarded either; a client that retries a
create it never saw answered lists its webhooks and deletes the extra one.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from league_api.api.declare import body, query, raises, response
from league_api.auth import current_key, require_key
from league_api.db import transactional
from league_api.errors import (
    InvalidRequest,
    WebhookLimitReached,
    WebhookNotFound,
    WebhookURLNotAllowed,
)
from league_api.schemas import empty_body_schema
from league_api.schemas.webhooks import (
    deliveries_query_schema,
    deliveries_schema,
    webhook_create_schema,
    webhook_created_schema,
    webhook_deleted_schema,
    webhook_list_schema,
    webhook_read_schema,
    webhook_rotated_schema,
)
from league_api.webhooks import subscriptions as domain

bp = Blueprint("webhooks", __name__)

WRITE = "webhooks:read-write"
READ = "webhooks:read"


@bp.post("/webhooks")
@require_key("any", WRITE)
@transactional
@body(
    webhook_create_schema,
    "Every event named must be one the key could read through the API (else 400).",
    "The URL is http(s) and its host resolves only to global addresses (else 400).",
)
@response(
    201,
    webhook_created_schema,
    "The webhook, with its signing secret (shown only here)",
    location="api.webhooks.get_webhook",
    location_args={"webhook_id": "webhookId"},
)
@raises(InvalidRequest, WebhookURLNotAllowed, WebhookLimitReached)
def create_webhook(data: dict[str, Any]):
    """Subscribe a URL to events; the answer holds the secret that signs them."""
    subscription, secret = domain.create(
        current_key(), data["url"], data["events"], data["description"]
    )
    return {"webhookId": subscription.id, "secret": secret}


@bp.get("/webhooks")
@require_key("any", READ)
@response(200, webhook_list_schema, "The key's webhooks, newest first")
def list_webhooks():
    """The key's webhooks, newest first."""
    return {"webhooks": domain.list_for(current_key())}


@bp.get("/webhooks/<api_id:webhook_id>")
@require_key("any", READ)
@response(200, webhook_read_schema, "The webhook")
@raises(WebhookNotFound)
def get_webhook(webhook_id: str):
    """One of the key's webhooks (never its secret)."""
    return {"webhook": domain.owned(current_key(), webhook_id)}


@bp.delete("/webhooks/<api_id:webhook_id>")
@require_key("any", WRITE)
@transactional
@body(empty_body_schema)
@response(200, webhook_deleted_schema, "The webhook, deleted with its pending deliveries")
@raises(WebhookNotFound)
def delete_webhook(data: dict[str, Any], webhook_id: str):
    """Delete a webhook; deleting it again is a 404, so a retry is harmless."""
    domain.remove(domain.owned(current_key(), webhook_id, for_update=True))
    return {"webhookId": webhook_id}


@bp.post("/webhooks/<api_id:webhook_id>/rotate-secret")
@require_key("any", WRITE)
@transactional
@body(empty_body_schema)
@response(200, webhook_rotated_schema, "The new secret; the old one signs too for 24 hours")
@raises(WebhookNotFound)
def rotate_secret(data: dict[str, Any], webhook_id: str):
    """Replace the signing secret; both sign every delivery until the old one expires."""
    subscription = domain.owned(current_key(), webhook_id, for_update=True)
    secret = domain.rotate(subscription)
    return {
        "webhookId": subscription.id,
        "secret": secret,
        "previousSecretExpiresAt": subscription.previous_secret_expires_at,
    }


def _attempt_status(attempt: Any, delivery: Any) -> str:
    if attempt.finished_at is None:
        # Its worker still holds the lease, or died holding it.
        return "in_flight" if delivery.lease_token == attempt.lease_token else "abandoned"
    return "failed" if attempt.error else "succeeded"


@bp.get("/webhooks/<api_id:webhook_id>/deliveries")
@require_key("any", READ)
@query(deliveries_query_schema)
@response(200, deliveries_schema, "The webhook's recent attempts, newest first")
@raises(WebhookNotFound)
def list_deliveries(args: dict[str, Any], webhook_id: str):
    """Recent delivery attempts: status, HTTP status, duration and error."""
    subscription = domain.owned(current_key(), webhook_id)
    attempts = [
        {
            "webhookId": delivery.webhook_id,
            "eventType": delivery.event_type,
            "attempt": attempt.number,
            "status": _attempt_status(attempt, delivery),
            "statusCode": attempt.status_code,
            "durationMs": attempt.duration_ms,
            "error": attempt.error,
            "deliveryStatus": delivery.status,
            "startedAt": attempt.started_at,
        }
        for attempt, delivery in domain.recent_attempts(subscription, args["limit"])
    ]
    return {"webhookId": subscription.id, "attempts": attempts}
