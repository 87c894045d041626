"""``flask --app league_api webhooks ...``: subscriptions, redelivery, the worker and purge."""

from __future__ import annotations

import signal
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from league_api import provisioning
from league_api.db import db
from league_api.errors import APIError
from league_api.models import ApiKey
from league_api.models.webhooks import FAILED, WebhookDelivery, WebhookSubscription
from league_api.webhooks import delivery, subscriptions

webhooks_cli = AppGroup("webhooks", help="Webhook subscriptions and their delivery worker.")


def _refusal(error: APIError) -> click.ClickException:
    details: Any = error.details
    if isinstance(details, dict):
        details = "; ".join(f"{name}: {' '.join(map(str, text))}" for name, text in details.items())
    return click.ClickException(str(details))


@webhooks_cli.command("create")
@click.argument("url")
@click.option("--key", "key_id", required=True, help="Id of the API key the webhook belongs to.")
@click.option("--event", "events", multiple=True, required=True, help="An event type to send.")
@click.option("--description", help="A note for operators.")
def create_command(url: str, key_id: str, events: tuple[str, ...], description: str | None):
    """Subscribe URL for a key; prints the secret once (its id goes to stderr)."""
    with provisioning.transaction():
        key = db.session.get(ApiKey, key_id)
        if key is None or key.revoked_at is not None:
            raise click.ClickException(f"no live API key {key_id!r}")
        try:
            subscription, secret = subscriptions.create(key, url, list(events), description)
        except APIError as error:
            raise _refusal(error) from None
    click.echo(f"webhook id: {subscription.id}", err=True)
    click.echo(secret)


@webhooks_cli.command("list")
@click.option("--key", "key_id", help="Only this API key's webhooks.")
def list_command(key_id: str | None) -> None:
    """One line per webhook: id, key, state, URL and events."""
    query = select(WebhookSubscription).order_by(WebhookSubscription.id)
    if key_id is not None:
        query = query.where(WebhookSubscription.api_key_id == key_id)
    for sub in db.session.scalars(query):
        state = "active" if sub.disabled_at is None else f"disabled ({sub.disabled_reason})"
        click.echo(f"{sub.id}\t{sub.api_key_id}\t{state}\t{sub.url}\t{','.join(sub.events)}")


@webhooks_cli.command("delete")
@click.argument("webhook_id")
def delete_command(webhook_id: str) -> None:
    """Delete a webhook and its deliveries."""
    with provisioning.transaction():
        subscription = db.session.get(WebhookSubscription, webhook_id)
        if subscription is None:
            raise click.ClickException(f"no webhook {webhook_id!r}")
        subscriptions.remove(subscription)
    click.echo(f"Deleted {webhook_id}.")


@webhooks_cli.command("redeliver")
@click.argument("delivery_ids", nargs=-1)
@click.option("--failed", "failed_of", help="Every failed delivery of this webhook id.")
def redeliver_command(delivery_ids: tuple[str, ...], failed_of: str | None) -> None:
    """Send deliveries again (same webhook-id, same body): by id (msg_...) or --failed."""
    if not delivery_ids and failed_of is None:
        raise click.UsageError("name delivery ids, or --failed WEBHOOK_ID")
    with provisioning.transaction():
        ids = [found.removeprefix("msg_") for found in delivery_ids]
        if failed_of is not None:
            ids += db.session.scalars(
                select(WebhookDelivery.id).where(
                    WebhookDelivery.subscription_id == failed_of, WebhookDelivery.status == FAILED
                )
            )
        for delivery_id in ids:
            if delivery.redeliver(delivery_id) is None:
                raise click.ClickException(f"no delivery {delivery_id!r}")
    click.echo(f"Scheduled {len(ids)} deliveries.")


@webhooks_cli.command("worker")
@click.option("--drain", is_flag=True, help="Deliver what is due now, then exit.")
def worker_command(drain: bool) -> None:
    """Deliver webhooks until stopped (SIGTERM or Ctrl-C finish the current attempt first)."""
    stopping: list[int] = []

    def stop(signum: int, _frame: Any) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop)
    sent = delivery.run(drain=drain, should_stop=lambda: bool(stopping))
    if drain:
        click.echo(f"Delivered {sent} attempts.")


@webhooks_cli.command("purge")
@click.option(
    "--older-than",
    type=float,
    help="Seconds (default: WEBHOOKS_RETENTION_SECONDS, 7 days).",
)
def purge_command(older_than: float | None) -> None:
    """Delete finished events (and their deliveries) older than the retention, in batches."""
    retention = older_than
    if retention is None:
        retention = float(current_app.config.get("WEBHOOKS_RETENTION_SECONDS", 7 * 86400))
    click.echo(f"Purged {delivery.purge(retention)} events.")
