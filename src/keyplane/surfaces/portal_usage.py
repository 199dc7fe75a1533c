"""The portal's usage page (seed 002): Unix-second ranges, pages of at most 100, model prices.

Who reads whose usage is usage.service.usage_filter_for, as for every usage read; the portal's
contract adds one refusal: a restricted key may not name a user_id at all (keyplane's other usage
routes let it name its own user).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.errors import BadRequest, Forbidden
from keyplane.kernel.permissions import sees_only_own
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import USAGE_READ, require_scope
from keyplane.models import ModelPrice, UsageRecord
from keyplane.usage.queries import list_usage_records
from keyplane.usage.service import usage_filter_for

MAX_PORTAL_PAGE_SIZE = 100
MAX_UNIX_SECONDS = 253_402_300_798


@dataclass(slots=True)
class UsagePage:
    records: list[UsageRecord]
    total: int
    prices: dict[str, ModelPrice]


def _time_range(start_time: int | None, end_time: int | None) -> tuple[datetime | None, datetime | None]:
    """Both or neither; end_time is inclusive to the second, so start == end is one second."""
    if (start_time is None) != (end_time is None):
        raise BadRequest("start_time and end_time must be given together")
    if start_time is None or end_time is None:
        return None, None
    for name, value in (("start_time", start_time), ("end_time", end_time)):
        if not 0 <= value <= MAX_UNIX_SECONDS:
            raise BadRequest(f"{name} must be a Unix timestamp in seconds")
    if start_time > end_time:
        raise BadRequest("start_time must not be after end_time")
    return datetime.fromtimestamp(start_time, UTC), datetime.fromtimestamp(end_time, UTC) + timedelta(
        seconds=1
    )


def _check_user_filter(principal: Principal, user_id: str | None) -> None:
    """The portal's contract: naming a user at all takes an org-level key of an org admin."""
    if user_id is not None and sees_only_own(principal):
        raise Forbidden(
            "Filtering by user_id needs an organization-level key of an organization admin",
            code="admin_required",
        )


async def portal_usage_page(
    *,
    session: AsyncSession,
    principal: Principal,
    start_time: int | None,
    end_time: int | None,
    page: int,
    page_size: int,
    user_id: str | None = None,
    token_id: str | None = None,
) -> UsagePage:
    """One page of the key's org's usage, newest first, with the prices of the models on it."""
    require_scope(principal, USAGE_READ)
    _check_user_filter(principal, user_id)
    if page < 1:
        raise BadRequest("page must be 1 or more")
    if not 1 <= page_size <= MAX_PORTAL_PAGE_SIZE:
        raise BadRequest(f"pagesize must be between 1 and {MAX_PORTAL_PAGE_SIZE}")
    start, end = _time_range(start_time, end_time)
    usage_filter = await usage_filter_for(
        session=session, principal=principal, start=start, end=end, key_id=token_id, user_id=user_id
    )
    records, total = await list_usage_records(
        session=session, filter=usage_filter, page=page, page_size=page_size
    )
    models = sorted({record.model for record in records})
    prices: dict[str, ModelPrice] = {}
    if models:
        found = await session.execute(select(ModelPrice).where(ModelPrice.model.in_(models)))
        prices = {price.model: price for price in found.scalars()}
    return UsagePage(records=records, total=total, prices=prices)
