"""Finding one key by its hash: the only place that knows what a key hash looks like and who sees which key.

Every surface and package (keys, usage filters, budgets) finds a key by hash here: it must be of
the caller's org, a restricted caller (kernel.permissions.sees_only_own) sees only the keys its
own user created, and anything else is a 404 that does not say whether the key exists.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import NotFound
from keyplane.kernel.principal import Principal
from keyplane.keys.repository import ApiKeyRepository
from keyplane.models import ApiKey

KEY_HASH = re.compile(r"[0-9a-f]{64}")


async def key_by_hash(*, session: AsyncSession, principal: Principal, key_hash: str) -> ApiKey:
    """The key the caller may see with this hash (any case, surrounding blanks ignored), else 404."""
    key_hash = key_hash.strip().lower()
    # Anything but a sha256 hex digest names no key: answer without a query (and without handing
    # PostgreSQL a NUL byte it would refuse).
    if not KEY_HASH.fullmatch(key_hash):
        raise NotFound("API key not found")
    key = await ApiKeyRepository.visible_to(session, principal).by_hash(key_hash)
    if key is None:
        raise NotFound("API key not found")
    return key
