"""The key record the gateway needs, cached by hash with a short TTL so revocations land in < 1 s."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.auth.client_address import address_allowed, parse_allowlist
from keyplane.auth.service import OPERATOR_ORG_ID, by_previous_secret, key_refusal, rotated_secret_refusal
from keyplane.config import IPNetwork
from keyplane.models import ApiKey, Organization
from keyplane.models.base import utcnow

# Unknown hashes are remembered briefly too, so a flood of bad keys does not become a flood of queries.
MISSING_TTL_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """An immutable copy of the columns of api_keys the hot path reads."""

    id: str
    hash: str
    kind: str
    org_id: str
    workspace_id: str
    user_id: str | None
    disabled: bool
    revoked: bool
    expires_at: datetime | None
    limit_nanousd: int | None
    limit_reset: str | None
    include_byok_in_limit: bool
    allowed_models: tuple[str, ...] | None
    rate_limit_rpm: int | None
    rate_limit_tpm: int | None
    org_suspended: bool = False
    org_is_operator: bool = False  # the first org: its balance is enforced only when the operator asks
    # Parsed once per cache fill: None serves any client address.
    allowed_networks: tuple[IPNetwork, ...] | None = None
    tags: tuple[str, ...] | None = None  # default tags of the key's usage
    max_concurrency: int | None = None
    # Set when the secret presented is the one before the last rotation: it works until then.
    previous_secret_expires_at: datetime | None = None
    via_previous_secret: bool = False

    def refusal(self, now: datetime) -> str | None:
        """Why the key may not be used now: the same rules the management surfaces apply."""
        refusal = key_refusal(self, now)
        if refusal is None and self.via_previous_secret:
            return rotated_secret_refusal(self.previous_secret_expires_at, now)
        return refusal

    def allows_address(self, address: str | None) -> bool:
        return self.allowed_networks is None or address_allowed(address, self.allowed_networks)

    def allows_model(self, model: str) -> bool:
        return not self.allowed_models or model in self.allowed_models


_COLUMNS = (
    ApiKey.id,
    ApiKey.hash,
    ApiKey.kind,
    ApiKey.org_id,
    ApiKey.workspace_id,
    ApiKey.creator_user_id,
    ApiKey.disabled,
    ApiKey.revoked,
    ApiKey.expires_at,
    ApiKey.limit_nanousd,
    ApiKey.limit_reset,
    ApiKey.include_byok_in_limit,
    ApiKey.allowed_models,
    ApiKey.rate_limit_rpm,
    ApiKey.rate_limit_tpm,
    Organization.status,
    OPERATOR_ORG_ID.scalar_subquery(),
    ApiKey.allowed_ips,
    ApiKey.tags,
    ApiKey.max_concurrency,
    ApiKey.previous_key_expires_at,
)


async def _key_row(session: AsyncSession, where: ColumnElement[bool]) -> Any:
    statement = select(*_COLUMNS).join(Organization, Organization.id == ApiKey.org_id).where(where)
    return (await session.execute(statement)).first()


async def load_key_record(session: AsyncSession, key_hash: str) -> KeyRecord | None:
    """The key whose current secret this is; only on a miss, the one whose previous secret it is."""
    row = await _key_row(session, ApiKey.hash == key_hash)
    previous = row is None
    if previous:
        row = await _key_row(session, by_previous_secret(key_hash, utcnow()))
        if row is None:
            return None
    allowed = row[12]
    ips, tags = row[17], row[18]
    return KeyRecord(
        id=row[0],
        hash=row[1],
        kind=row[2],
        org_id=row[3],
        workspace_id=row[4],
        user_id=row[5],
        disabled=bool(row[6]),
        revoked=bool(row[7]),
        expires_at=row[8],
        limit_nanousd=row[9],
        limit_reset=row[10],
        include_byok_in_limit=bool(row[11]),
        allowed_models=tuple(str(m) for m in allowed) if allowed else None,
        rate_limit_rpm=row[13],
        rate_limit_tpm=row[14],
        org_suspended=row[15] == "suspended",
        org_is_operator=row[16] == row[3],
        allowed_networks=parse_allowlist(ips) if ips is not None else None,
        tags=tuple(str(t) for t in tags) if tags else None,
        max_concurrency=row[19],
        previous_secret_expires_at=row[20] if previous else None,
        via_previous_secret=previous,
    )


class KeyCache:
    """hash -> (record or None, loaded at); one loader per hash at a time (no thundering herd)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], ttl_seconds: float) -> None:
        self._sessions = sessions
        # Raised while Redis invalidation is live (keyplane.gateway.invalidation), else the short TTL.
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[KeyRecord | None, float]] = {}
        self._loading: dict[str, asyncio.Future[KeyRecord | None]] = {}
        # Bumped by every invalidation: a load that read the row before it changed is not cached.
        self._generation = 0

    async def get(self, key_hash: str) -> KeyRecord | None:
        entry = self._entries.get(key_hash)
        now = time.monotonic()
        if entry is not None:
            record, loaded_at = entry
            ttl = self.ttl if record is not None else min(self.ttl, MISSING_TTL_SECONDS)
            if now - loaded_at < ttl:
                return record
        pending = self._loading.get(key_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[KeyRecord | None] = asyncio.get_running_loop().create_future()
        self._loading[key_hash] = future
        generation = self._generation
        try:
            async with self._sessions() as session:
                record = await load_key_record(session, key_hash)
            if len(self._entries) > 100_000:
                self._entries.clear()
            if generation == self._generation:
                self._entries[key_hash] = (record, time.monotonic())
            future.set_result(record)
            return record
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            del self._loading[key_hash]

    def invalidate(self, key_hash: str | None = None) -> None:
        self._generation += 1
        if key_hash is None:
            self._entries.clear()
        else:
            self._entries.pop(key_hash, None)
