"""Provider secrets at rest: AES-GCM under a key derived from KEYPLANE_SECRET_KEY, or env references.

Stored form (a JSON object in the credential row):
- `{"kind": "literal", "ciphertext": "kp1.<base64>", "redacted": "sk-a****...wxyz"}`: an encrypted
  literal; `redacted` is the masked preview responses show (computed once, so listing never decrypts).
- `{"kind": "env", "env_var": "NAME"}`: read from the environment each time it is used, when the
  owner may (operator org only, names in KEYPLANE_ALLOWED_ENV_REFS; see env_refs.py).
- `{"kind": "plain", "value": "..."}`: a non-secret config value (an Azure endpoint, a region).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets as _secrets
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keyplane.errors import KeyplaneError
from keyplane.kernel.env_refs import EnvRefPolicy

TOKEN_PREFIX = "kp1."
_NONCE_BYTES = 12
_HKDF_SALT = b"keyplane/provider-secrets"
_HKDF_INFO = b"keyplane provider secret encryption v1"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MASK = "*" * 24


class SecretDecryptError(KeyplaneError):
    """A stored secret cannot be decrypted: wrong KEYPLANE_SECRET_KEY or a tampered token."""

    status_code = 500
    code = "secret_decrypt_failed"


def derive_key(secret_key: str) -> bytes:
    """A 256-bit AES key from the operator's secret (HKDF-SHA256, fixed salt and context)."""
    if not secret_key:
        raise ValueError("secret_key must not be empty")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=_HKDF_SALT, info=_HKDF_INFO)
    return hkdf.derive(secret_key.encode("utf-8"))


class SecretBox:
    """Encrypts under the current key; decrypts with the current key or any previous one (key roll)."""

    __slots__ = ("_ciphers",)

    def __init__(self, secret_key: str, *, previous_keys: Sequence[str] = ()) -> None:
        keys = [secret_key, *(k for k in previous_keys if k and k != secret_key)]
        self._ciphers = [AESGCM(derive_key(key)) for key in keys]

    def encrypt(self, plaintext: str) -> str:
        nonce = _secrets.token_bytes(_NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, plaintext.encode("utf-8"), TOKEN_PREFIX.encode())
        return TOKEN_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, token: str) -> str:
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise SecretDecryptError("Stored secret has an unknown format")
        try:
            raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :].encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise SecretDecryptError("Stored secret is not valid base64") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise SecretDecryptError("Stored secret is truncated")
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        for cipher in self._ciphers:
            try:
                plain = cipher.decrypt(nonce, sealed, TOKEN_PREFIX.encode())
            except InvalidTag:
                continue
            return plain.decode("utf-8")
        raise SecretDecryptError(
            "Stored secret cannot be decrypted (wrong KEYPLANE_SECRET_KEY or tampered data)"
        )

    def can_decrypt_with_current(self, token: str) -> bool:
        """True when the token is already under the current key (rotation skips it)."""
        try:
            raw = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :].encode("ascii"))
            self._ciphers[0].decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], TOKEN_PREFIX.encode())
        except (InvalidTag, ValueError, binascii.Error):
            return False
        return True


def redact(value: str) -> str:
    """Short values are fully masked; longer ones keep their first and last four characters."""
    if len(value) <= 8:
        return "*" * len(value)
    return value[:4] + MASK + value[-4:]


def is_valid_env_name(name: str) -> bool:
    return bool(_ENV_NAME.match(name))


def store_literal(plaintext: str, box: SecretBox) -> dict[str, Any]:
    return {"kind": "literal", "ciphertext": box.encrypt(plaintext), "redacted": redact(plaintext)}


def store_env(env_var: str) -> dict[str, Any]:
    return {"kind": "env", "env_var": env_var}


def store_plain(value: str) -> dict[str, Any]:
    return {"kind": "plain", "value": value}


def resolve_secret(stored: dict[str, Any] | None, box: SecretBox, *, env_refs: EnvRefPolicy) -> str | None:
    """The usable value now: decrypted literal, current environment value, or None when unset.

    An environment reference resolves only when `env_refs` (the owner's rules) allows its name:
    a tenant's, or one the operator no longer lists, reads nothing.
    """
    if not stored:
        return None
    kind = stored.get("kind")
    if kind == "literal":
        return box.decrypt(str(stored.get("ciphertext", "")))
    if kind == "env":
        name = str(stored.get("env_var", ""))
        if not env_refs.allows(name):
            return None
        value = os.environ.get(name)
        return value if value else None
    if kind == "plain":
        value = stored.get("value")
        return str(value) if value is not None else None
    raise SecretDecryptError("Stored secret has an unknown kind")


def previous_secret_keys(raw: str | None = None) -> list[str]:
    """Comma-separated old keys still accepted for decryption (KEYPLANE_SECRET_KEY_PREVIOUS)."""
    if raw is None:
        raw = os.environ.get("KEYPLANE_SECRET_KEY_PREVIOUS", "")
    return [key.strip() for key in raw.split(",") if key.strip()]


def box_for(secret_key: str, previous: str | None = None) -> SecretBox:
    """The box a process uses: its secret key plus the previous ones during a key roll."""
    return SecretBox(secret_key, previous_keys=previous_secret_keys(previous))
