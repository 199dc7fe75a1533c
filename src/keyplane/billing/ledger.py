"""The org ledger: credits, debits and usage; a balance is always the sum of its entries."""

from __future__ import annotations

from sqlalchemy import ColumnElement, case, func
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.money import MAX_USD, NANOS_PER_USD, nanos_to_usd
from keyplane.kernel.permissions import require_admin, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.repository import OrgRepository
from keyplane.kernel.scopes import BILLING_WRITE
from keyplane.models import LedgerEntry, Membership
from keyplane.models.base import utcnow
from keyplane.orgs.repository import MembershipRepository
from keyplane.orgs.service import existing_org_id

MAX_CREDIT_NANOS = int(MAX_USD * NANOS_PER_USD)
MAX_NOTE_LENGTH = 500


class LedgerRepository(OrgRepository[LedgerEntry]):
    """The ledger entries of one org, optionally only those attributed to one user."""

    model = LedgerEntry

    def __init__(self, session: AsyncSession, org_id: str, *, user_id: str | None = None) -> None:
        super().__init__(session, org_id)
        self.user_id = user_id

    def readable(self) -> ColumnElement[bool]:
        org = super().readable()
        return org if self.user_id is None else org & (LedgerEntry.user_id == self.user_id)


async def balance_nanos(*, session: AsyncSession, org_id: str, user_id: str | None = None) -> int:
    """Sum of the org's entries, or of the entries attributed to one user when user_id is given."""
    entries = LedgerRepository(session, org_id, user_id=user_id)
    return int(
        await entries.scalar(entries.select_columns(func.coalesce(func.sum(LedgerEntry.amount_nanousd), 0)))
    )


async def add_credit(
    *,
    session: AsyncSession,
    principal: Principal,
    org_id: str | None,
    amount_nanos: int,
    note: str = "",
    user_id: str | None = None,
) -> LedgerEntry:
    """Append a positive credit (operator admins, billing:write) to the org, default the caller's."""
    org_id = org_id or principal.require_org()
    require_admin(principal, BILLING_WRITE)
    require_operator_admin(principal, "Credits")  # a tenant crediting itself voids balances
    # Only after the operator check: a tenant learns nothing about which org ids exist.
    await existing_org_id(session, org_id)
    if isinstance(amount_nanos, bool) or not isinstance(amount_nanos, int):
        raise BadRequest("amount must be a number")
    if amount_nanos <= 0:
        raise BadRequest("amount must be greater than 0")
    if amount_nanos > MAX_CREDIT_NANOS:
        raise BadRequest(f"amount must be at most {MAX_USD:.0f}")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise BadRequest(f"note must be at most {MAX_NOTE_LENGTH} characters")
    if user_id is not None:
        members = MembershipRepository(session, org_id)
        if await members.first(members.select().where(Membership.user_id == user_id)) is None:
            raise NotFound("User not found in this organization")
    entry = LedgerEntry(
        org_id=org_id,
        user_id=user_id,
        amount_nanousd=amount_nanos,
        kind="credit",
        note=note,
        actor=principal.actor_id[:100],
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    await audit.record(
        session,
        principal,
        "credits.added",
        entry,
        amount=nanos_to_usd(amount_nanos),
        note=note,
        user_id=user_id,
    )
    return entry


async def total_credits_and_usage(*, session: AsyncSession, org_id: str) -> tuple[int, int]:
    """(all positive entries, all negative entries as a positive number): their difference is the balance.

    Usage debits are the gateway's "usage" entries; manual debits count as usage too, so that
    total_credits - total_usage always equals balance_nanos, as OpenRouter clients compute it.
    """
    amount = LedgerEntry.amount_nanousd
    query = LedgerRepository(session, org_id).select_columns(
        func.coalesce(func.sum(case((amount > 0, amount), else_=0)), 0),
        func.coalesce(func.sum(case((amount < 0, -amount), else_=0)), 0),
    )
    credits, usage = (await session.execute(query)).one()
    return int(credits), int(usage)


MAX_LEDGER_PAGE_SIZE = 500


async def list_ledger_entries(
    *, session: AsyncSession, org_id: str, page: int, page_size: int, user_id: str | None = None
) -> list[LedgerEntry]:
    """Newest first; one page of the org's (or one user's) entries."""
    if page < 1 or not 1 <= page_size <= MAX_LEDGER_PAGE_SIZE:
        raise BadRequest(f"page must be 1 or more and page_size between 1 and {MAX_LEDGER_PAGE_SIZE}")
    entries = LedgerRepository(session, org_id, user_id=user_id)
    query = (
        entries.select()
        .order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(await entries.list(query))
