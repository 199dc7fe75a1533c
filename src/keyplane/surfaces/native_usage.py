"""keyplane's own usage routes: filtered pages, groupings by day/model/key/tag, and a streamed CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from keyplane.deps import Session, UsageReader, get_context, require_management_key
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.principal import Principal
from keyplane.kernel.tags import TAG
from keyplane.keys.repository import ApiKeyRepository
from keyplane.models import UsageRecord
from keyplane.orgs.tenants import reading_as
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import IdQuery, KeyHashQuery, ModelQuery, OrgIdQuery
from keyplane.surfaces.native_usage_schemas import (
    Pagination,
    UsageGroup,
    UsageGroups,
    UsagePage,
    UsageRecordOut,
)
from keyplane.surfaces.openrouter_shapes import iso
from keyplane.usage import queries
from keyplane.usage.csv_cells import csv_cell
from keyplane.usage.queries import UsageFilter
from keyplane.usage.service import usage_filter_for

router = APIRouter(
    prefix="/api/v1/usage",
    tags=["usage"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403, 404),  # 404: a key, workspace or org filter
)

CSV_COLUMNS = (
    "id",
    "request_id",
    "created_at",
    "key_hash",
    "user_id",
    "workspace_id",
    "model",
    "provider",
    "is_byok",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "total_tokens",
    "cost",
    "latency_ms",
    "status_code",
    "streamed",
    "error",
    "tags",
)


def record_object(record: UsageRecord, key_hash: str | None) -> dict[str, Any]:
    return {
        "id": record.id,
        "request_id": record.request_id,
        "created_at": iso(record.created_at),
        "key_hash": key_hash,
        "user_id": record.user_id,
        "workspace_id": record.workspace_id,
        "model": record.model,
        "provider": record.provider,
        "is_byok": record.is_byok,
        "prompt_tokens": record.prompt_tokens,
        "completion_tokens": record.completion_tokens,
        "cached_tokens": record.cached_tokens,
        "cache_write_tokens": record.cache_write_tokens,
        "total_tokens": record.prompt_tokens + record.completion_tokens,
        "cost": nanos_to_usd(record.cost_nanousd),
        "latency_ms": record.latency_ms,
        "status_code": record.status_code,
        "streamed": record.streamed,
        "error": record.error,
        "tags": list(record.tags) if record.tags else None,
    }


def csv_value(item: dict[str, Any], column: str) -> object:
    """A record's CSV cell: tags as one comma-separated cell (tags never hold a comma)."""
    value = item[column]
    if column == "tags":
        return csv_cell(",".join(value) if value else None)
    return csv_cell(value)


def group_object(row: dict[str, Any]) -> UsageGroup:
    out = {k: v for k, v in row.items() if k not in ("cost_nanousd", "byok_cost_nanousd", "key_id")}
    out["cost"] = nanos_to_usd(row["cost_nanousd"])
    out["byok_cost"] = nanos_to_usd(row["byok_cost_nanousd"])
    return UsageGroup.model_validate(out)


async def key_hashes(session: AsyncSession, org_id: str, key_ids: set[str]) -> dict[str, str]:
    found = await ApiKeyRepository(session, org_id).names_by_id(key_ids) if key_ids else {}
    return {key_id: key_hash for key_id, (key_hash, _) in found.items()}


async def _filter(
    session: AsyncSession,
    principal: Principal,
    org_id: str | None,
    start: datetime | None,
    end: datetime | None,
    key_hash: str | None,
    user_id: str | None,
    workspace_id: str | None,
    model: str | None,
    tag: str | None,
) -> UsageFilter:
    return await usage_filter_for(
        session=session,
        principal=await reading_as(session=session, principal=principal, org_id=org_id),
        start=start,
        end=end,
        key_hash=key_hash,
        user_id=user_id,
        workspace_id=workspace_id,
        model=model,
        tag=tag,
    )


Start = Annotated[datetime | None, Query(description="Inclusive, ISO 8601 (UTC when no offset).")]
End = Annotated[datetime | None, Query(description="Exclusive, ISO 8601 (UTC when no offset).")]
KeyHash = KeyHashQuery
Id = IdQuery
Model = ModelQuery
OrgId = OrgIdQuery
Tag = Annotated[
    str | None,
    Query(max_length=64, pattern=f"^{TAG.pattern}$", description="Records carrying this tag."),
]


@router.get("", response_model=UsagePage | UsageGroups, response_model_exclude_unset=True)
async def list_usage(
    session: Session,
    principal: UsageReader,
    start: Start = None,
    end: End = None,
    key_hash: KeyHash = None,
    user_id: Id = None,
    workspace_id: Id = None,
    model: Model = None,
    org_id: OrgId = None,
    tag: Tag = None,
    group_by: Literal["day", "model", "key", "tag"] | None = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE_SIZE)] = 100,
) -> UsagePage | UsageGroups:
    """Usage records newest first, one page at a time, or sums grouped by day, model, key or tag
    (a record with two tags counts in both groups)."""
    usage_filter = await _filter(
        session, principal, org_id, start, end, key_hash, user_id, workspace_id, model, tag
    )
    if group_by is not None:
        rows = await queries.grouped_usage(session=session, filter=usage_filter, group_by=group_by)
        return UsageGroups(data=[group_object(r) for r in rows], group_by=group_by)
    records, total = await queries.list_usage_records(
        session=session, filter=usage_filter, page=page, page_size=page_size
    )
    hashes = await key_hashes(session, usage_filter.org_id, {r.key_id for r in records})
    return UsagePage(
        data=[UsageRecordOut.model_validate(record_object(r, hashes.get(r.key_id))) for r in records],
        pagination=Pagination(page=page, page_size=page_size, total=total, has_more=page * page_size < total),
    )


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every matching record, one CSV row each, with a header row",
            "content": {"text/csv": {"schema": {"type": "string", "description": ", ".join(CSV_COLUMNS)}}},
        }
    },
)
async def export_usage(
    request: Request,
    session: Session,
    principal: UsageReader,
    start: Start = None,
    end: End = None,
    key_hash: KeyHash = None,
    user_id: Id = None,
    workspace_id: Id = None,
    model: Model = None,
    org_id: OrgId = None,
    tag: Tag = None,
) -> StreamingResponse:
    """Every matching record as CSV, streamed in keyset batches so memory stays flat."""
    usage_filter = await _filter(
        session, principal, org_id, start, end, key_hash, user_id, workspace_id, model, tag
    )
    return usage_csv_response(get_context(request).sessions, usage_filter)


def usage_csv_response(
    sessions: async_sessionmaker[AsyncSession], usage_filter: UsageFilter
) -> StreamingResponse:
    """The filter's records as a streamed CSV download (the API's export and the dashboard's)."""

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)  # fixed names: nothing to escape
        async with sessions() as export_session:  # the request's session closes before streaming ends
            hashes: dict[str, str] = {}
            batch: list[UsageRecord] = []
            async for record in queries.iter_usage_records(session=export_session, filter=usage_filter):
                batch.append(record)
                if len(batch) >= queries.EXPORT_BATCH:
                    yield await _csv_chunk(export_session, usage_filter.org_id, batch, hashes, buffer, writer)
                    batch = []
            yield await _csv_chunk(export_session, usage_filter.org_id, batch, hashes, buffer, writer)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="usage.csv"'},
    )


async def _csv_chunk(
    session: AsyncSession,
    org_id: str,
    batch: list[UsageRecord],
    hashes: dict[str, str],
    buffer: io.StringIO,
    writer: Any,
) -> str:
    hashes.update(await key_hashes(session, org_id, {r.key_id for r in batch} - hashes.keys()))
    for record in batch:
        item = record_object(record, hashes.get(record.key_id))
        writer.writerow([csv_value(item, c) for c in CSV_COLUMNS])
    chunk = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return chunk
