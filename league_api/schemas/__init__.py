"""marshmallow request schemas (one module per area) and the one load-or-400 helper."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from league_api.errors import InvalidRequest
from league_api.jsonbody import json_object_body
from league_api.models.base import isoformat


class JSONInteger(fields.Integer):
    """An integer as JSON carries it: ``3`` or ``3.0`` (the same value), never ``"3"`` or true."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid", input=value)
        if isinstance(value, float):
            if not value.is_integer():
                raise self.make_error("invalid", input=value)
            value = int(value)
        return super()._validated(value)


BEST_OF = (1, 3, 5, 7)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LAST_MS_OF_9999 = 253_402_300_799_999


class EpochMillis(JSONInteger):
    """A moment sent as epoch milliseconds, loaded as an aware UTC datetime (years 1970-9999)."""

    def __init__(self, **kwargs: Any) -> None:
        # The bounds for the document; checked in _deserialize.
        super().__init__(metadata={"minimum": 0, "maximum": _LAST_MS_OF_9999}, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> datetime:
        milliseconds = super()._deserialize(value, attr, data, **kwargs)
        # Range validators run after deserialising, so check here before the arithmetic.
        if not 0 <= milliseconds <= _LAST_MS_OF_9999:
            raise ValidationError("Must be epoch milliseconds between 1970 and 9999.")
        return _EPOCH + timedelta(milliseconds=milliseconds)


class StrictBoolean(fields.Boolean):
    """Only JSON true and false; marshmallow's default would also take "yes" or 1."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


def load(schema: Schema, data: Any = None) -> dict[str, Any]:
    """Validate ``data`` (default: the JSON object body) or answer 400 naming the fields."""
    if data is None:
        data = json_object_body()
    try:
        return schema.load(data)
    except ValidationError as error:
        raise InvalidRequest(error.messages) from None


def Text(low: int, high: int, **kwargs: Any) -> fields.String:  # noqa: N802 - a field factory
    return fields.String(validate=validate.Length(low, high), **kwargs)


empty_body_schema = Schema()


class QueryInteger(fields.Integer):
    """An integer in a query string: ASCII digits with an optional minus, nothing else
    (Python's ``int`` would also take " 7", "+7" and "7_0", which the document does not)."""

    def _validated(self, value: Any) -> int:
        if not isinstance(value, str) or not re.fullmatch(r"-?[0-9]{1,16}", value):
            raise self.make_error("invalid", input=value)
        return super()._validated(int(value))


# -- responses: output schemas name their fields as JSON does and read the model's attributes --


class Time(fields.String):
    """A moment as ISO 8601 UTC with milliseconds and a Z."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(metadata={"format": "date-time"}, **kwargs)

    def _serialize(self, value: Any, attr: Any, obj: Any, **kwargs: Any) -> str | None:
        return isoformat(value)


class Reply(Schema):
    """Every answer carries the server's time."""

    timestamp = Time(required=True)


class Done(Reply):
    """A write's answer: ``{"success": true, ..., "timestamp"}``."""

    success = fields.Boolean(required=True, dump_default=True)
