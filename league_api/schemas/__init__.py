"""marshmallow request schemas (one module per area) and the one load-or-400 helper."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from league_api.errors import APIError
from league_api.jsonbody import json_object_body


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
        raise APIError(400, "error_invalid_request", error.messages) from None


def Text(low: int, high: int, **kwargs: Any) -> fields.String:  # noqa: N802 - a field factory
    return fields.String(validate=validate.Length(low, high), **kwargs)


empty_body_schema = Schema()
