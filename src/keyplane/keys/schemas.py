"""What callers may ask of the keys service, independent of any surface's wire shape."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str = "inference"
    workspace_id: str | None = None
    limit_usd: float | None = None
    limit_reset: str | None = None
    include_byok_in_limit: bool = False
    expires_at: datetime | None = None
    creator_user_id: str | None = None
    external_user: str | None = None
    description: str = ""
    scopes: list[str] = Field(default_factory=list)
    reach: str = "org"
    allowed_models: list[str] | None = None
    rate_limit_rpm: int | None = None
    rate_limit_tpm: int | None = None
    allowed_ips: list[str] | None = None
    tags: list[str] | None = None
    max_concurrency: int | None = None


class KeyUpdate(BaseModel):
    """Only the fields that were sent are applied (``model_fields_set``); None may mean 'clear'."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    disabled: bool | None = None
    limit_usd: float | None = None
    limit_reset: str | None = None
    include_byok_in_limit: bool | None = None
    expires_at: datetime | None = None
    description: str | None = None
    scopes: list[str] | None = None
    workspace_id: str | None = None
    allowed_models: list[str] | None = None
    rate_limit_rpm: int | None = None
    rate_limit_tpm: int | None = None
    allowed_ips: list[str] | None = None
    tags: list[str] | None = None
    max_concurrency: int | None = None


class OwnKeyCreate(BaseModel):
    """A management key a user makes for themself: org_id None means a personal key in their first org."""

    name: str
    description: str = ""
    expires_at: datetime | None = None
    scopes: list[str] | None = None
    org_id: str | None = None


class OwnKeyUpdate(BaseModel):
    """Only the fields that were sent are applied; expires_at None means never."""

    name: str | None = None
    description: str | None = None
    expires_at: datetime | None = None
    scopes: list[str] | None = None
