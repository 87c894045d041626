"""Alembic environment of the idempotency record table (see league_api.idempotency.migrating)."""

from alembic import context
from flask import current_app

from league_api.idempotency.commands import tree
from league_api.idempotency.migrating import run_env

run_env(context, tree(current_app))
