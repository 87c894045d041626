"""Scope of a record and fingerprint of a request."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785


def scope_hash(caller: str, method: str, path: str, key: str) -> str:
    """One operation = (caller, method, concrete path, key); JSON keeps the parts apart."""
    parts = json.dumps([caller, method, path, key], ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(parts.encode("ascii")).hexdigest()


# A caller whose JSON string is the caller between quotes (no escape, ASCII): for such a
# caller ``scope_hash`` is sha256('["' + caller + '",' + scope_tail(...)), which SQL can compute.
PLAIN_CALLER = "^[0-9A-Za-z_.-]+$"


def scope_tail(method: str, path: str, key: str) -> str:
    """What follows the caller in ``scope_hash``'s hashed text."""
    return json.dumps([method, path, key], ensure_ascii=True, separators=(",", ":"))[1:]


def fingerprint(body: Any, query_string: bytes) -> str:
    """SHA-256 over the RFC 8785 canonical body and the raw query string.

    Canonical JSON never holds a raw newline, so the separator cannot be forged.
    Raises ``rfc8785.CanonicalizationError`` for a value it cannot represent.
    """
    digest = hashlib.sha256(rfc8785.dumps(body))
    digest.update(b"\n")
    digest.update(query_string)
    return digest.hexdigest()
