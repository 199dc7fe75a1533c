"""Key formats and hashing: plaintext is shown once, only its sha256 is ever stored."""

from __future__ import annotations

import hashlib
import re
import secrets

INFERENCE_PREFIX = "sk-kp-v1-"
MANAGEMENT_PREFIX = "sk_mg_"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def hash_key(plaintext: str) -> str:
    """The public identifier of a key: sha256 hex of its plaintext."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def generate_key(kind: str) -> str:
    prefix = MANAGEMENT_PREFIX if kind == "management" else INFERENCE_PREFIX
    return prefix + secrets.token_hex(32)


def key_kind_of(plaintext: str) -> str | None:
    """The kind a plaintext claims by its format, or None when it is not a keyplane key."""
    for prefix, kind in ((MANAGEMENT_PREFIX, "management"), (INFERENCE_PREFIX, "inference")):
        if plaintext.startswith(prefix) and _HEX64.match(plaintext[len(prefix) :]):
            return kind
    return None


def mask_key(plaintext: str) -> str:
    """A preview that identifies a key without revealing it: prefix, 8 hex, '...', last 8 hex."""
    for prefix in (MANAGEMENT_PREFIX, INFERENCE_PREFIX):
        if plaintext.startswith(prefix):
            body = plaintext[len(prefix) :]
            return f"{prefix}{body[:8]}...{body[-8:]}"
    return plaintext[:4] + "..." + plaintext[-4:]
