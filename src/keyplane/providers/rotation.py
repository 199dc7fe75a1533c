"""Re-encrypt every stored provider secret under a new secret key, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.kernel.principal import SYSTEM
from keyplane.models import ProviderCredential
from keyplane.providers.secrets import SecretBox


def _reencrypt(stored: Any, old: SecretBox, new: SecretBox) -> tuple[Any, int]:
    if not isinstance(stored, dict) or stored.get("kind") != "literal":
        return stored, 0
    plaintext = old.decrypt(str(stored.get("ciphertext", "")))
    return {**stored, "ciphertext": new.encrypt(plaintext)}, 1


async def rotate_secrets(*, session: AsyncSession, old: SecretBox, new: SecretBox) -> int:
    """Decrypt with `old` (which may hold several keys), encrypt with `new`; returns secrets moved.

    Raises SecretDecryptError (nothing written: the caller's transaction rolls back) when any
    secret cannot be decrypted with the old keys.
    """
    moved = 0
    rows = (await session.execute(select(ProviderCredential).with_for_update())).scalars().all()
    for row in rows:
        row.value, count = _reencrypt(row.value, old, new)
        moved += count
        config: dict[str, Any] = {}
        for field, block in (row.config or {}).items():
            if isinstance(block, dict):
                new_block: dict[str, Any] = {}
                for name, stored in block.items():
                    new_block[name], count = _reencrypt(stored, old, new)
                    moved += count
                config[field] = new_block
            else:
                config[field] = block
        row.config = config  # a new object, so the JSON column is seen as changed
    await session.flush()
    await audit.record(
        session,
        SYSTEM,
        "provider_secrets.rotated",
        audit.Target("provider_credential", "*"),
        credentials=len(rows),
        secrets=moved,
    )
    return moved
