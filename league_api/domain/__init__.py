"""Domain rules: what may happen to leagues, matches and tickets, independent of HTTP."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select

from league_api.db import db
from league_api.errors import APIError


def one_or_404(query: Select[Any], missing: type[APIError], for_update: bool = False) -> Any:
    """The one row ``query`` finds, locked for the transaction when it is about to change."""
    if for_update:
        query = query.with_for_update()
    row = db.session.scalar(query)
    if row is None:
        raise missing()
    return row
