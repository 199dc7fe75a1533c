"""How many keys may exist at once: per user and kind (keys a user manages themself) and per org (every key).

Each check first locks the row it counts under (the membership or the organization) so that two
concurrent creations are checked one after the other: a no-op UPDATE takes the row lock on
PostgreSQL and the database write lock on SQLite (whose SELECT ... FOR UPDATE does nothing), held
until the transaction ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, Forbidden
from keyplane.kernel.repository import OrgRepository
from keyplane.keys.repository import ApiKeyRepository
from keyplane.models import ApiKey, Membership, Organization

if TYPE_CHECKING:
    from keyplane.config import Settings


class OrgKeyLimitReached(Forbidden):
    """The org holds as many keys as the operator allows it (organizations.max_api_keys or
    KEYPLANE_MAX_KEYS_PER_ORG): a policy refusal that no retry fixes, hence 403 on every surface."""

    code = "org_key_limit_reached"

    def __init__(self, cap: int) -> None:
        super().__init__(
            f"Key limit reached: this organization may hold at most {cap} API keys "
            "(management and inference together, revoked ones not counted); revoke or delete one first",
            code=self.code,
        )


class _Memberships(OrgRepository[Membership]):
    """The org's memberships (keys sits below orgs in the package graph, so it names them here)."""

    model = Membership


async def lock_membership(session: AsyncSession, *, org_id: str, user_id: str) -> Membership | None:
    """Serialize one user's key creations so caps and unique names are checked in turn."""
    where = (Membership.org_id == org_id, Membership.user_id == user_id)
    await session.execute(update(Membership).where(*where).values(role=Membership.role))
    memberships = _Memberships(session, org_id)
    return await memberships.first(memberships.select().where(Membership.user_id == user_id))


async def lock_org_key_cap(session: AsyncSession, *, org_id: str, default_cap: int) -> int:
    """Serialize key creations in one org and return its cap (NULL column: the default)."""
    where = Organization.id == org_id
    # updated_at set to itself: the lock must not look like a change of the org
    await session.execute(update(Organization).where(where).values(updated_at=Organization.updated_at))
    cap = (await session.execute(select(Organization.max_api_keys).where(where))).scalar_one_or_none()
    return max(cap, 0) if cap is not None else default_cap


async def count_active_keys(session: AsyncSession, *, org_id: str, user_id: str, kind: str) -> int:
    """A user's keys that still work or could: neither revoked nor expired."""
    return await ApiKeyRepository(session, org_id).count_unrevoked(user_id=user_id, kind=kind)


async def check_active_key_cap(
    session: AsyncSession, *, org_id: str, user_id: str, kind: str, cap: int
) -> None:
    if await count_active_keys(session, org_id=org_id, user_id=user_id, kind=kind) >= cap:
        raise BadRequest(
            f"Key limit reached: at most {cap} active {kind} keys per user in an organization; "
            "revoke or delete one first",
            code="key_limit_reached",
        )


async def check_org_key_cap(session: AsyncSession, *, org_id: str, default_cap: int) -> None:
    """Refuse one more unrevoked key in a full org. Expired and disabled keys count: a PATCH can
    make them work again without passing here."""
    cap = await lock_org_key_cap(session, org_id=org_id, default_cap=default_cap)
    if await ApiKeyRepository(session, org_id).count_unrevoked(count_expired=True) >= cap:
        raise OrgKeyLimitReached(cap)


@dataclass(frozen=True, slots=True)
class KeyCaps:
    """The operator's key caps: per user and kind (KEYPLANE_MANAGEMENT_KEYS_PER_USER,
    KEYPLANE_INFERENCE_KEYS_PER_USER) and the default per org (KEYPLANE_MAX_KEYS_PER_ORG)."""

    management_per_user: int
    inference_per_user: int
    per_org: int

    @classmethod
    def of(cls, settings: Settings) -> KeyCaps:
        return cls(
            management_per_user=settings.management_keys_per_user,
            inference_per_user=settings.inference_keys_per_user,
            per_org=settings.max_keys_per_org,
        )

    def per_user(self, kind: str) -> int:
        return self.management_per_user if kind == "management" else self.inference_per_user


async def check_user_key_cap(session: AsyncSession, *, key: ApiKey, user_id: str, cap: int) -> None:
    """Before a key of `user_id` counts again (restored, or an expired one extended): its cap, in turn."""
    await lock_membership(session, org_id=key.org_id, user_id=user_id)
    await check_active_key_cap(session, org_id=key.org_id, user_id=user_id, kind=key.kind, cap=cap)
