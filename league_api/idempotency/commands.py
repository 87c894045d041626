"""``flask idempotency purge``."""

import click
from flask.cli import AppGroup

from league_api.idempotency.store import purge_expired

idempotency_cli = AppGroup("idempotency", help="Manage idempotency records.")


@idempotency_cli.command("purge")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100000))
def purge_command(batch_size: int) -> None:
    """Delete expired idempotency records and print how many were removed."""
    removed = purge_expired(batch_size)
    click.echo(f"Removed {removed} expired idempotency records.")
