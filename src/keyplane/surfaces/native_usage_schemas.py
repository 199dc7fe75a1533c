"""The answers of keyplane's usage routes: a page of records, or sums grouped by day, model or key."""

from __future__ import annotations

from pydantic import BaseModel, Field


class UsageRecordOut(BaseModel):
    """One request as the gateway recorded it; `cost` in USD, `key_hash` null once the key is gone."""

    id: int
    request_id: str
    created_at: str
    key_hash: str | None
    user_id: str | None
    workspace_id: str
    model: str
    provider: str
    is_byok: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    total_tokens: int
    cost: float
    latency_ms: int
    status_code: int
    streamed: bool
    error: str | None
    tags: list[str] | None = Field(description="The key's default tags and the request's X-Keyplane-Tags")


class Pagination(BaseModel):
    page: int
    page_size: int
    total: int
    has_more: bool


class UsagePage(BaseModel):
    data: list[UsageRecordOut]
    pagination: Pagination


class UsageGroup(BaseModel):
    """Sums for one group; only the group's own field(s) appear: `day`, `model`, `tag`, or `key_id`
    with `key_hash` and `key_name` (null once the key is deleted)."""

    day: str | None = Field(default=None, description="YYYY-MM-DD (group_by=day)")
    model: str | None = Field(default=None, description="group_by=model")
    tag: str | None = Field(default=None, description="group_by=tag")
    key_id: str | None = Field(default=None, description="group_by=key")
    key_hash: str | None = None
    key_name: str | None = None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    total_tokens: int
    cost: float
    byok_cost: float


class UsageGroups(BaseModel):
    data: list[UsageGroup]
    group_by: str
