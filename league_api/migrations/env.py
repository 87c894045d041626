"""Alembic environment of league_api's tables (see league_api.idempotency.migrating)."""

from alembic import context
from flask import current_app

from league_api.idempotency.migrating import run_env
from league_api.migrations import tree

run_env(context, tree(current_app))
