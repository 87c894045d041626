"""Alembic revisions and environment: loaded by Alembic, shipped as a package."""
