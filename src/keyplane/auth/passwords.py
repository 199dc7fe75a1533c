"""Password hashing with argon2id; verification never raises on a bad hash."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A valid hash to verify against when the user is unknown, so timing does not reveal accounts;
    made on first use, not at import (it costs ~0.3 s and argon2's 64 MiB working memory)."""
    return _hasher.hash("keyplane-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False
