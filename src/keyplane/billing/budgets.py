"""Budgets: spending caps on the org, a workspace or a key, each with its own reset interval.

The gateway enforces them (keyplane.gateway.subjects); this module is their admin lifecycle and
the settled spend in the current window, read from the daily usage rollups.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.money import MAX_USD, is_valid_amount, nanos_to_usd, usd_to_nanos
from keyplane.kernel.permissions import require_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.repository import OrgRepository
from keyplane.kernel.scopes import BILLING_WRITE
from keyplane.kernel.windows import window_start_day
from keyplane.kernel.writes import delete_once
from keyplane.keys.lookup import key_by_hash
from keyplane.keys.repository import ApiKeyRepository
from keyplane.models import Budget, UsageRollup
from keyplane.models.api_key import LIMIT_RESETS
from keyplane.models.base import utcnow
from keyplane.models.budget import BUDGET_SCOPES
from keyplane.usage.repository import UsageRollupRepository
from keyplane.workspaces.service import workspace_in_org

MAX_BUDGETS_PER_ORG = 1000


@dataclass(frozen=True, slots=True)
class BudgetView:
    budget: Budget
    key_hash: str | None
    spend_nanos: int


def _check_limit(limit_usd: float) -> int:
    if isinstance(limit_usd, bool) or not isinstance(limit_usd, int | float):
        raise BadRequest("limit must be a number")
    if not is_valid_amount(float(limit_usd)):
        raise BadRequest(f"limit must be between 0 and {MAX_USD:.0f} USD")
    return usd_to_nanos(float(limit_usd))


def _check_reset(reset: str | None) -> str | None:
    if reset is not None and reset not in LIMIT_RESETS:
        raise BadRequest(f"reset must be one of {', '.join(LIMIT_RESETS)} or null")
    return reset


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if len(name) > 200:
        raise BadRequest("name must be at most 200 characters")
    return name


class BudgetRepository(OrgRepository[Budget]):
    model = Budget
    not_found = "Budget not found"


async def budget_spend(session: AsyncSession, budget: Budget, now: datetime) -> int:
    """Settled spend in the budget's current window (BYOK only when the budget counts it)."""
    rollups = UsageRollupRepository(session, budget.org_id)
    query = rollups.select_columns(func.coalesce(func.sum(UsageRollup.cost_nanousd), 0))
    if budget.scope == "workspace":
        query = query.where(UsageRollup.workspace_id == budget.workspace_id)
    elif budget.scope == "key":
        query = query.where(UsageRollup.key_id == budget.key_id)
    start = window_start_day(budget.reset, now)
    if start is not None:
        query = query.where(UsageRollup.day >= start)
    if not budget.include_byok:
        query = query.where(UsageRollup.is_byok.is_(False))
    return int(await rollups.scalar(query))


async def _view(session: AsyncSession, budget: Budget, now: datetime) -> BudgetView:
    key_hash = None
    if budget.key_id is not None:
        names = await ApiKeyRepository(session, budget.org_id).names_by_id([budget.key_id])
        key_hash = names[budget.key_id][0] if budget.key_id in names else None
    return BudgetView(budget, key_hash, await budget_spend(session, budget, now))


async def list_budgets(
    *, session: AsyncSession, principal: Principal, scope: str | None = None
) -> list[BudgetView]:
    require_admin(principal)
    if scope is not None and scope not in BUDGET_SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(BUDGET_SCOPES)}")
    repository = BudgetRepository.of(session, principal)
    query = repository.select()
    if scope is not None:
        query = query.where(Budget.scope == scope)
    query = query.order_by(Budget.created_at, Budget.id).limit(MAX_BUDGETS_PER_ORG)
    now = utcnow()
    return [await _view(session, b, now) for b in await repository.list(query)]


async def _budget_in_org(session: AsyncSession, principal: Principal, budget_id: str) -> Budget:
    if len(budget_id) > 36:
        raise NotFound(BudgetRepository.not_found)
    return await BudgetRepository.of(session, principal).get_by_id(budget_id)


async def get_budget(*, session: AsyncSession, principal: Principal, budget_id: str) -> BudgetView:
    require_admin(principal)
    return await _view(session, await _budget_in_org(session, principal, budget_id), utcnow())


async def create_budget(
    *,
    session: AsyncSession,
    principal: Principal,
    scope: str,
    limit_usd: float,
    reset: str | None = None,
    include_byok: bool = False,
    name: str | None = None,
    workspace_id: str | None = None,
    key_hash: str | None = None,
) -> BudgetView:
    """A new cap; workspace budgets name a workspace, key budgets a key hash, of the same org."""
    require_admin(principal, BILLING_WRITE)
    org_id = principal.require_org()
    if scope not in BUDGET_SCOPES:
        raise BadRequest(f"scope must be one of {', '.join(BUDGET_SCOPES)}")
    limit_nanos = _check_limit(limit_usd)
    reset = _check_reset(reset)
    name = _check_name(name)
    key_id = None
    if scope == "workspace":
        if workspace_id is None or key_hash is not None:
            raise BadRequest("A workspace budget needs workspace_id (and no key_hash)")
        workspace_id = (await workspace_in_org(session=session, org_id=org_id, workspace_id=workspace_id)).id
    elif scope == "key":
        if key_hash is None or workspace_id is not None:
            raise BadRequest("A key budget needs key_hash (and no workspace_id)")
        key_id = (await key_by_hash(session=session, principal=principal, key_hash=key_hash)).id
    elif workspace_id is not None or key_hash is not None:
        raise BadRequest("An org budget takes neither workspace_id nor key_hash")
    if await BudgetRepository(session, org_id).count() >= MAX_BUDGETS_PER_ORG:
        raise BadRequest(f"An organization has at most {MAX_BUDGETS_PER_ORG} budgets")
    budget = Budget(
        org_id=org_id,
        scope=scope,
        workspace_id=workspace_id,
        key_id=key_id,
        name=name,
        limit_nanousd=limit_nanos,
        reset=reset,
        include_byok=bool(include_byok),
        created_at=utcnow(),
    )
    session.add(budget)
    await session.flush()
    await audit.record(
        session,
        principal,
        "budget.created",
        budget,
        scope=scope,
        workspace_id=workspace_id,
        key_hash=key_hash.strip().lower() if key_hash else None,
        limit=nanos_to_usd(limit_nanos),
        reset=reset,
        include_byok=budget.include_byok,
    )

    return await _view(session, budget, utcnow())


async def update_budget(
    *, session: AsyncSession, principal: Principal, budget_id: str, changes: dict[str, Any]
) -> BudgetView:
    """Change limit, reset, include_byok or name (the scope and its target are fixed)."""
    require_admin(principal, BILLING_WRITE)
    budget = await _budget_in_org(session, principal, budget_id)
    unknown = set(changes) - {"limit", "reset", "include_byok", "name"}
    if unknown:
        raise BadRequest(f"Cannot change {', '.join(sorted(unknown))} of a budget")
    applied: dict[str, Any] = {}
    if "limit" in changes:
        if changes["limit"] is None:
            raise BadRequest("limit must not be null")
        budget.limit_nanousd = _check_limit(changes["limit"])
        applied["limit"] = nanos_to_usd(budget.limit_nanousd)
    if "reset" in changes:
        budget.reset = applied["reset"] = _check_reset(changes["reset"])
    if "include_byok" in changes:
        if not isinstance(changes["include_byok"], bool):
            raise BadRequest("include_byok must be true or false")
        budget.include_byok = applied["include_byok"] = changes["include_byok"]
    if "name" in changes:
        budget.name = applied["name"] = _check_name(changes["name"])
    if applied:
        await session.flush()
        await audit.record(session, principal, "budget.updated", budget, changes=applied)
    return await _view(session, budget, utcnow())


async def delete_budget(*, session: AsyncSession, principal: Principal, budget_id: str) -> None:
    require_admin(principal, BILLING_WRITE)
    budget = await _budget_in_org(session, principal, budget_id)
    target = audit.target_of(budget)
    if not await delete_once(session, budget):
        raise NotFound(BudgetRepository.not_found)  # a concurrent delete won
    await audit.record(
        session,
        principal,
        "budget.deleted",
        target,
        scope=budget.scope,
        limit=nanos_to_usd(budget.limit_nanousd),
    )
