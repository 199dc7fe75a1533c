"""Usage: filters (dates, key, model, workspace), grouped views, a server-side paged table and the
CSV export of the same filter (the API's streaming export). Whole days read the rollups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.deps import Session
from keyplane.kernel.principal import Principal
from keyplane.keys import service as keys
from keyplane.orgs import tenants
from keyplane.orgs.tenants import reading_as
from keyplane.surfaces.dashboard.common import context_of, next_day
from keyplane.surfaces.dashboard.forms import midnight, parse_day
from keyplane.surfaces.dashboard.render import render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn
from keyplane.surfaces.native_usage import key_hashes, usage_csv_response
from keyplane.usage import queries
from keyplane.usage.queries import UsageFilter
from keyplane.usage.service import usage_filter_for
from keyplane.workspaces.service import list_workspaces

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE_SIZE = 50
KEY_CHOICES = 200
Text = Annotated[str, Query(max_length=200)]
Group = Literal["", "day", "model", "key"]


@dataclass(slots=True)
class Filters:
    """The page's query string: dates are whole UTC days, `to` included."""

    date_from: str = ""
    date_to: str = ""
    key: str = ""
    model: str = ""
    workspace: str = ""
    group: str = ""
    org: str = ""  # operator admins: another org's usage

    def query(self, **extra: str | int) -> str:
        values = {
            "from": self.date_from,
            "to": self.date_to,
            "key": self.key,
            "model": self.model,
            "workspace": self.workspace,
            "group": self.group,
            "org": self.org,
            **extra,
        }
        return urlencode({name: value for name, value in values.items() if value not in ("", None)})

    async def reader(self, session: AsyncSession, user: DashboardUser) -> Principal:
        """The user, or for an operator admin naming another org, the user reading inside it."""
        return await reading_as(session=session, principal=user.principal, org_id=self.org or None)

    async def usage_filter(self, session: AsyncSession, reader: Principal) -> UsageFilter:
        last = parse_day(self.date_to, "To")
        return await usage_filter_for(
            session=session,
            principal=reader,
            start=midnight(parse_day(self.date_from, "From")),
            end=midnight(next_day(last)) if last is not None else None,
            key_hash=self.key or None,
            workspace_id=self.workspace or None,
            model=self.model or None,
        )


def _filters(
    date_from: str, date_to: str, key: str, model: str, workspace: str, group: str, org: str
) -> Filters:
    return Filters(
        date_from.strip(), date_to.strip(), key.strip(), model.strip(), workspace.strip(), group, org.strip()
    )


async def _org_choices(session: AsyncSession, user: DashboardUser) -> list[tuple[str, str]]:
    """Every org for the operator's admins (whose Usage may read any), else none."""
    if not user.is_operator_admin:
        return []
    found, _total = await tenants.list_tenants(
        session=session, principal=user.principal, page=1, page_size=tenants.MAX_ORGS_PAGE
    )
    return [(tenant.org.id, tenant.org.name) for tenant in found]


@router.get("/usage", response_class=HTMLResponse)
async def usage_page(
    request: Request,
    session: Session,
    user: SignedIn,
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    key: Annotated[str, Query(max_length=64)] = "",
    model: Text = "",
    workspace: Annotated[str, Query(max_length=64)] = "",
    group: Group = "",
    org: Annotated[str, Query(max_length=64)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    filters = _filters(date_from, date_to, key, model, workspace, group, org)
    reader = await filters.reader(session, user)
    key_list = await keys.list_keys(
        session=session,
        principal=reader,
        workspace_id=None,
        include_disabled=True,
        include_expired=True,
        limit=KEY_CHOICES,
        kind="inference",
    )
    workspaces = await list_workspaces(session=session, org_id=reader.require_org())
    values: dict[str, Any] = {}
    usage_filter = await filters.usage_filter(session, reader)
    if filters.group:  # sums come from the rollups; the page shows PAGE_SIZE groups at a time
        groups = await queries.grouped_usage(
            session=session,
            filter=usage_filter,
            group_by=filters.group,  # type: ignore[arg-type]
        )
        values["groups"] = groups[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        values["total"] = len(groups)
        values["has_more"] = page * PAGE_SIZE < len(groups)
    else:
        records, total = await queries.list_usage_records(
            session=session, filter=usage_filter, page=page, page_size=PAGE_SIZE
        )
        values["records"] = records
        values["total"] = total
        values["hashes"] = await key_hashes(session, usage_filter.org_id, {r.key_id for r in records})
        values["has_more"] = page * PAGE_SIZE < total
    return render(
        request,
        "usage.html",
        user,
        title="Usage",
        filters=filters,
        key_list=key_list,
        key_names={k.hash: k.name for k in key_list},
        workspaces=workspaces,
        workspace_names={w.id: w.name for w in workspaces},
        page=page,
        page_size=PAGE_SIZE,
        orgs=await _org_choices(session, user),
        export_url=f"{PREFIX}/usage/export.csv?{filters.query(group='')}",
        **values,
    )


@router.get("/usage/export.csv", response_class=StreamingResponse)
async def export_usage(
    request: Request,
    session: Session,
    user: SignedIn,
    date_from: Annotated[str, Query(alias="from", max_length=10)] = "",
    date_to: Annotated[str, Query(alias="to", max_length=10)] = "",
    key: Annotated[str, Query(max_length=64)] = "",
    model: Text = "",
    workspace: Annotated[str, Query(max_length=64)] = "",
    org: Annotated[str, Query(max_length=64)] = "",
) -> StreamingResponse:
    """The same rows as the page's filter, every one of them, as the API's CSV."""
    filters = _filters(date_from, date_to, key, model, workspace, "", org)
    usage_filter = await filters.usage_filter(session, await filters.reader(session, user))
    return usage_csv_response(context_of(request).sessions, usage_filter)
