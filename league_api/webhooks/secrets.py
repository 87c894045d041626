"""Signing secrets: made here, stored only encrypted, and used to sign per Standard Webhooks.

The encryption key comes from ``WEBHOOKS_SECRET_KEY`` (one or more keys, comma-separated, the
first encrypting: a MultiFernet, so the key can be rotated). Without it, a random key is made
once in the instance folder (mode 0600) and reused, so a database dump alone forges nothing.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes
KEY_FILE = "webhooks_secret.key"
EXTENSION = "league_api.webhooks.fernet"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def _fernet_key(material: str) -> bytes:
    """A Fernet key as given, or one derived (HKDF-SHA256) from any other passphrase."""
    raw = material.strip().encode("utf-8")
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except ValueError:
        pass
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"league_api webhook secrets"
    ).derive(raw)
    return base64.urlsafe_b64encode(derived)


def _instance_key(app: Flask) -> str:
    """The instance folder's key, made atomically on first use (many workers may race)."""
    path = os.path.join(app.instance_path, KEY_FILE)
    os.makedirs(app.instance_path, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="ascii") as file:
            key = file.read().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty; delete it or set WEBHOOKS_SECRET_KEY") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        key = Fernet.generate_key().decode("ascii")
        file.write(key + "\n")
    return key


def _cipher() -> MultiFernet:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cached = app.extensions.get(EXTENSION)
    if cached is None:
        configured = app.config.get("WEBHOOKS_SECRET_KEY")
        materials = [part for part in str(configured or "").split(",") if part.strip()]
        if not materials:
            materials = [_instance_key(app)]
        cached = app.extensions[EXTENSION] = MultiFernet(
            [Fernet(_fernet_key(material)) for material in materials]
        )
    return cached


def encrypt(secret: str) -> str:
    return _cipher().encrypt(secret.encode("ascii")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise RuntimeError(
            "a webhook secret cannot be decrypted: WEBHOOKS_SECRET_KEY is not the key it was"
            " stored with"
        ) from None


def signature_header(
    webhook_id: str, timestamp: datetime, body: str, signing_secrets: list[str]
) -> str:
    """``v1,<sig>`` per secret, space-separated (the spec's form for rotation)."""
    return " ".join(Webhook(secret).sign(webhook_id, timestamp, body) for secret in signing_secrets)
