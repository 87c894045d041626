"""Strict JSON request bodies: parsed once per request, exactly as API.md section 3 step 5 says."""

from __future__ import annotations

import json
import math
from typing import Any

from flask import g, request

from league_api.errors import InvalidJSON, InvalidRequest, UnsupportedMediaType

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1
_UNSET = object()


class _Invalid(ValueError):
    pass


def _parse_int(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_SAFE_INTEGER:
        raise _Invalid(f"integer {text[:32]} is beyond +-2^53-1")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Invalid("number out of range")
    return value


def _reject_constant(name: str) -> None:
    raise _Invalid(f"{name} is not JSON")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate names would make two different bodies share one fingerprint.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _Invalid("duplicate object member name")
    return obj


def _check_structure(value: Any) -> None:
    """Depth limit, no lone surrogates (they cannot be UTF-8 encoded) and no U+0000."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_DEPTH:
                raise _Invalid(f"nesting deeper than {MAX_DEPTH}")
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_DEPTH:
                raise _Invalid(f"nesting deeper than {MAX_DEPTH}")
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item)


def _check_text(text: str) -> None:
    # PostgreSQL text cannot hold U+0000; refused on every database so both behave alike.
    if "\x00" in text:
        raise _Invalid("string holds U+0000, which cannot be stored")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise _Invalid("string holds a lone surrogate") from error


def parse_strict_json(raw: bytes) -> Any:
    """Parse strict UTF-8 JSON or raise ``error_invalid_json``."""
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_reject_constant,
            object_pairs_hook=_unique_object,
        )
        _check_structure(value)
    except (ValueError, RecursionError) as error:
        # ValueError covers UnicodeDecodeError, JSONDecodeError and our own checks.
        detail = str(error) if isinstance(error, _Invalid) else "body is not valid UTF-8 JSON"
        raise InvalidJSON(detail) from None
    return value


def _is_json_mimetype(mimetype: str) -> bool:
    return mimetype == "application/json" or (
        mimetype.startswith("application/") and mimetype.endswith("+json")
    )


def json_body() -> Any:
    """The request body as JSON (``{}`` when empty); parsed and checked once per request."""
    context = g._get_current_object()  # one proxied access, not two
    cached = context.get("_league_json_body", _UNSET)
    if cached is not _UNSET:
        return cached
    req = request._get_current_object()
    raw = req.get_data(cache=True)
    if not raw:
        value: Any = {}
    elif not _is_json_mimetype(req.mimetype):
        raise UnsupportedMediaType()
    else:
        value = parse_strict_json(raw)
    context._league_json_body = value
    return value


def json_object_body() -> dict[str, Any]:
    """The body of a write: it must be a JSON object."""
    value = json_body()
    if not isinstance(value, dict):
        raise InvalidRequest("the body must be a JSON object")
    return value
