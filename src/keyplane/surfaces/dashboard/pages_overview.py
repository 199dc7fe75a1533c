"""Overview: balance, spend today and this month, spend per day and the top models and keys.

Every number comes from the daily rollups (whole UTC days, midnight to midnight), never a scan of
raw usage records, so the page stays fast on tens of millions of rows.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from keyplane.billing.ledger import balance_nanos
from keyplane.deps import Session
from keyplane.kernel.money import nanos_to_usd
from keyplane.surfaces.dashboard.charts import bar_chart
from keyplane.surfaces.dashboard.common import day_start, next_day, today
from keyplane.surfaces.dashboard.render import render
from keyplane.surfaces.dashboard.session import PREFIX, SignedIn
from keyplane.usage import queries
from keyplane.usage.service import usage_filter_for

router = APIRouter(prefix=PREFIX, include_in_schema=False)
CHART_DAYS = 30
TOP = 5


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    now_day = today()
    month_start = now_day.replace(day=1)
    first = min(month_start, now_day - timedelta(days=CHART_DAYS - 1))
    end = day_start(next_day(now_day))
    principal = user.principal
    window = await usage_filter_for(session=session, principal=principal, start=day_start(first), end=end)
    month = await usage_filter_for(
        session=session, principal=principal, start=day_start(month_start), end=end
    )
    by_day = {
        row["day"]: row for row in await queries.grouped_usage(session=session, filter=window, group_by="day")
    }
    days = [now_day - timedelta(days=offset) for offset in range(CHART_DAYS - 1, -1, -1)]
    series = [(day.isoformat(), by_day.get(day.isoformat(), {}).get("cost_nanousd", 0)) for day in days]
    month_rows = [row for key, row in by_day.items() if key >= month_start.isoformat()]
    models = await queries.grouped_usage(session=session, filter=month, group_by="model")
    keys = await queries.grouped_usage(session=session, filter=month, group_by="key")
    return render(
        request,
        "overview.html",
        user,
        title="Overview",
        balance=await balance_nanos(session=session, org_id=principal.require_org()),
        today_cost=by_day.get(now_day.isoformat(), {}).get("cost_nanousd", 0),
        today_requests=by_day.get(now_day.isoformat(), {}).get("requests", 0),
        month_cost=sum(row["cost_nanousd"] for row in month_rows),
        month_requests=sum(row["requests"] for row in month_rows),
        series=series,
        chart=bar_chart(
            [(name, nanos_to_usd(value)) for name, value in series],
            label=f"Spend per day, last {CHART_DAYS} days, in USD",
        ),
        models=models[:TOP],
        keys=keys[:TOP],
        own_only=not user.is_admin,
    )
