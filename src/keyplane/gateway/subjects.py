"""The limits one request must fit in: key limit, budgets (key, workspace, org) and the org balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from keyplane.gateway.key_cache import KeyRecord
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.windows import next_reset, window_start

# Window of limits that never reset (and of the balance): one counter row for all time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class BudgetRule:
    """An immutable copy of one budgets row."""

    id: str
    scope: str  # "org" | "workspace" | "key"
    scope_id: str
    name: str
    limit_nanos: int
    reset: str | None
    include_byok: bool


@dataclass(frozen=True, slots=True)
class LimitSubject:
    """One counter a request reserves on; `limit_nanos` None marks the org balance."""

    counter: str
    window_start: datetime
    limit_nanos: int | None
    scope: str  # "key" | "workspace" | "org" | "balance": which usage the counter is seeded from
    scope_id: str
    counts_byok: bool
    counts_platform: bool
    description: str
    resets_at: datetime | None

    @property
    def is_balance(self) -> bool:
        return self.limit_nanos is None

    def applies(self, is_byok: bool) -> bool:
        return self.counts_byok if is_byok else self.counts_platform

    @property
    def kind(self) -> str:
        """What the 402 names: "key limit", "budget" or "balance"."""
        if self.is_balance:
            return "balance"
        return "key limit" if self.counter.startswith("key:") else "budget"

    def refusal_message(self, left: int | None = None, needed: int | None = None) -> str:
        """Which limit refused, what it has left, what the request needed and how to get through."""
        amounts = ""
        if left is not None and needed is not None:
            amounts = (
                f": ${nanos_to_usd(max(left, 0)):.6f} left, and this request needs up to "
                f"${nanos_to_usd(needed):.6f} (its worst case: the prompt plus max_tokens "
                "at the model's price)"
            )
        if self.is_balance:
            return (
                f"Insufficient balance{amounts}. Add credits to the organization (POST "
                "/api/v1/billing/credits or `keyplane credits add`) or lower max_tokens."
            )
        assert self.limit_nanos is not None
        when = (
            f"wait until it resets at {self.resets_at.strftime('%Y-%m-%dT%H:%M:%SZ')}"
            if self.resets_at
            else "it does not reset"
        )
        fix = (
            "raise the key's limit (PATCH /api/v1/keys/{hash})"
            if self.kind == "key limit"
            else "raise the budget"
        )
        return (
            f"{self.description} of ${nanos_to_usd(self.limit_nanos):.6f} reached{amounts}. "
            f"Lower max_tokens, {fix}, or {when}."
        )


def _window(reset: str | None, now: datetime) -> tuple[datetime, datetime | None]:
    return window_start(reset, now) or EPOCH, next_reset(reset, now)


def key_limit_subject(key: KeyRecord, now: datetime) -> LimitSubject | None:
    if key.limit_nanousd is None:
        return None
    start, resets = _window(key.limit_reset, now)
    byok = key.include_byok_in_limit
    return LimitSubject(
        counter=f"key:{key.id}:{'a' if byok else 'p'}",
        window_start=start,
        limit_nanos=key.limit_nanousd,
        scope="key",
        scope_id=key.id,
        counts_byok=byok,
        counts_platform=True,
        description=f"Key limit ({key.limit_reset or 'total'})",
        resets_at=resets,
    )


def budget_subject(budget: BudgetRule, now: datetime) -> LimitSubject:
    start, resets = _window(budget.reset, now)
    label = f"budget '{budget.name}'" if budget.name else "budget"
    return LimitSubject(
        counter=f"budget:{budget.id}:{'a' if budget.include_byok else 'p'}",
        window_start=start,
        limit_nanos=budget.limit_nanos,
        scope=budget.scope,
        scope_id=budget.scope_id,
        counts_byok=budget.include_byok,
        counts_platform=True,
        description=f"{budget.scope.capitalize()} {label} ({budget.reset or 'total'})",
        resets_at=resets,
    )


def balance_subject(org_id: str) -> LimitSubject:
    return LimitSubject(
        counter=f"balance:{org_id}",
        window_start=EPOCH,
        limit_nanos=None,
        scope="balance",
        scope_id=org_id,
        counts_byok=False,
        counts_platform=True,
        description="Organization balance",
        resets_at=None,
    )


def subjects_for(
    key: KeyRecord,
    budgets: tuple[BudgetRule, ...],
    now: datetime,
    *,
    platform: bool,
    byok: bool,
    operator_balance: bool = False,
) -> list[LimitSubject]:
    """Every counter that applies when the request may be served by platform and/or BYOK credentials.

    The operator org's own balance counts only with `operator_balance` (KEYPLANE_ENFORCE_OPERATOR_BALANCE):
    a single-team install must not need a credit top-up before its first call.
    """
    found: list[LimitSubject] = []
    limit = key_limit_subject(key, now)
    if limit is not None:
        found.append(limit)
    for budget in budgets:
        if (
            (budget.scope == "key" and budget.scope_id == key.id)
            or (budget.scope == "workspace" and budget.scope_id == key.workspace_id)
            or (budget.scope == "org" and budget.scope_id == key.org_id)
        ):
            found.append(budget_subject(budget, now))
    if platform and (operator_balance or not key.org_is_operator):
        found.append(balance_subject(key.org_id))
    return [s for s in found if (platform and s.counts_platform) or (byok and s.counts_byok)]
