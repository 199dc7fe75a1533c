"""Signing secrets: `whsec_` + base64 of 32 random bytes (Standard Webhooks), encrypted at rest."""

from __future__ import annotations

import base64
import secrets

from keyplane.providers.secrets import SecretBox

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_signing_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def seal(box: SecretBox, secret: str) -> str:
    return box.encrypt(secret)


def unseal(box: SecretBox, stored: str) -> str:
    return box.decrypt(stored)
