"""OpenRouter-compatible keys API at /api/v1: keyplane's own keys API too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from keyplane.deps import (
    KeyPrincipal,
    ManagementPrincipal,
    Session,
    get_context,
    require_management_key,
    scope_dependency,
)
from keyplane.kernel.scopes import KEYS_READ, KEYS_WRITE
from keyplane.keys import service as keys
from keyplane.keys.rotation import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
from keyplane.keys.schemas import KeyCreate, KeyUpdate
from keyplane.models.base import utcnow
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.openrouter_shapes import (
    CreatedKey,
    CurrentKey,
    CurrentKeyData,
    Deleted,
    KeyData,
    KeyList,
    KeyObject,
)
from keyplane.usage.key_usage import usage_for_keys

LimitReset = Literal["daily", "weekly", "monthly"]
# Strict scalars: JSON `true` is not a limit of 1 USD and "yes" is not a boolean.
Name = Annotated[StrictStr, Field(max_length=10_000)]
Usd = StrictFloat
Flag = StrictBool
# No control characters: PostgreSQL refuses NUL in text, and ids never contain any.
NO_CONTROL_CHARACTERS = r"^[^\x00-\x1f\x7f]*$"
Identifier = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=NO_CONTROL_CHARACTERS)]


class ExternalBody(BaseModel):
    """OpenRouter's partner-defined identity of a key; keyplane keeps the user as external_user."""

    model_config = ConfigDict(extra="ignore")

    user: Annotated[StrictStr, Field(min_length=1, max_length=256, pattern=NO_CONTROL_CHARACTERS)]
    api_key: Annotated[StrictStr, Field(max_length=256, pattern=NO_CONTROL_CHARACTERS)] | None = None


# The service checks their values (keys.validation); the surface only refuses wrong types.
AllowedModels = list[StrictStr]
PerMinute = StrictInt
AllowedIps = Annotated[list[StrictStr], Field(max_length=1000)]
Tags = Annotated[list[StrictStr], Field(max_length=1000)]
Concurrency = StrictInt


class CreateKeyBody(BaseModel):
    """OpenRouter's create fields plus keyplane's gateway limits; an unknown field is a 400 naming it."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    limit: Usd | None = None
    limit_reset: LimitReset | None = None
    include_byok_in_limit: Flag = False
    expires_at: datetime | None = None
    workspace_id: Identifier | None = None
    creator_user_id: Identifier | None = None
    external: ExternalBody | None = None
    allowed_models: AllowedModels | None = None
    rate_limit_rpm: PerMinute | None = None
    rate_limit_tpm: PerMinute | None = None
    allowed_ips: AllowedIps | None = None
    tags: Tags | None = None
    max_concurrency: Concurrency | None = None

    def to_create(self) -> KeyCreate:
        return KeyCreate(
            name=self.name,
            limit_usd=self.limit,
            limit_reset=self.limit_reset,
            include_byok_in_limit=self.include_byok_in_limit,
            expires_at=self.expires_at,
            workspace_id=self.workspace_id,
            creator_user_id=self.creator_user_id,
            external_user=self.external.user if self.external else None,
            allowed_models=self.allowed_models,
            rate_limit_rpm=self.rate_limit_rpm,
            rate_limit_tpm=self.rate_limit_tpm,
            allowed_ips=self.allowed_ips,
            tags=self.tags,
            max_concurrency=self.max_concurrency,
        )


class UpdateKeyBody(BaseModel):
    """OpenRouter's PATCH fields, plus keyplane's `expires_at` and gateway limits (null clears each).

    An unknown field is a 400 naming it: `{"limt": 5}` must not leave the key without a limit.
    """

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    disabled: Flag | None = None
    limit: Usd | None = None
    limit_reset: LimitReset | None = None
    include_byok_in_limit: Flag | None = None
    workspace_id: Identifier | None = None
    expires_at: datetime | None = None
    allowed_models: AllowedModels | None = None
    rate_limit_rpm: PerMinute | None = None
    rate_limit_tpm: PerMinute | None = None
    allowed_ips: AllowedIps | None = None
    tags: Tags | None = None
    max_concurrency: Concurrency | None = None

    def to_update(self) -> KeyUpdate:
        data = {name: getattr(self, name) for name in self.model_fields_set}
        if "limit" in data:
            data["limit_usd"] = data.pop("limit")
        return KeyUpdate(**data)


class RotateKeyBody(BaseModel):
    """How long the old secret keeps working after the rotation: 0 to 7 days, 1 hour by default."""

    model_config = ConfigDict(extra="forbid")

    grace_seconds: Annotated[StrictInt, Field(ge=0, le=MAX_GRACE_SECONDS)] = DEFAULT_GRACE_SECONDS


# Auth is declared on the routers: management routes cannot be added unauthenticated by mistake.
ERRORS = error_responses("openrouter", 400, 401, 403)
NOT_FOUND = error_responses("openrouter", 404)
management = APIRouter(
    prefix="/api/v1", tags=["keys"], dependencies=[Depends(require_management_key)], responses=ERRORS
)
any_key = APIRouter(prefix="/api/v1", tags=["keys"], responses=ERRORS)
CAN_READ = [Depends(scope_dependency(KEYS_READ))]
CAN_WRITE = [Depends(scope_dependency(KEYS_WRITE))]


@management.get("/keys", dependencies=CAN_READ, response_model=KeyList, responses=NOT_FOUND)
async def list_keys(
    session: Session,
    principal: ManagementPrincipal,
    include_disabled: bool = False,
    include_expired: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    workspace_id: Annotated[str | None, Query(max_length=64, pattern=NO_CONTROL_CHARACTERS)] = None,
) -> KeyList:
    found = await keys.list_keys(
        session=session,
        principal=principal,
        workspace_id=workspace_id,
        include_disabled=include_disabled,
        include_expired=include_expired,
        offset=offset,
        kind="inference",
    )
    usage = await usage_for_keys(session, found, utcnow())
    return KeyList(data=[KeyObject.of(key, usage[key.id]) for key in found])


@management.post(
    "/keys", status_code=201, dependencies=CAN_WRITE, response_model=CreatedKey, responses=NOT_FOUND
)
async def create_key(
    body: CreateKeyBody, request: Request, session: Session, principal: ManagementPrincipal
) -> CreatedKey:
    key, plaintext = await keys.create_key(
        session=session,
        principal=principal,
        params=body.to_create(),
        default_org_cap=get_context(request).settings.max_keys_per_org,
    )
    usage = await usage_for_keys(session, [key], utcnow())
    return CreatedKey(data=KeyObject.of(key, usage[key.id]), key=plaintext)


@management.get("/keys/{key_hash}", dependencies=CAN_READ, response_model=KeyData, responses=NOT_FOUND)
async def get_key(key_hash: str, session: Session, principal: ManagementPrincipal) -> KeyData:
    key = await keys.get_key(session=session, principal=principal, key_hash=key_hash)
    usage = await usage_for_keys(session, [key], utcnow())
    return KeyData(data=KeyObject.of(key, usage[key.id]))


@management.patch("/keys/{key_hash}", dependencies=CAN_WRITE, response_model=KeyData, responses=NOT_FOUND)
async def update_key(
    key_hash: str, body: UpdateKeyBody, session: Session, principal: ManagementPrincipal
) -> KeyData:
    key = await keys.update_key(
        session=session, principal=principal, key_hash=key_hash, params=body.to_update()
    )
    usage = await usage_for_keys(session, [key], utcnow())
    return KeyData(data=KeyObject.of(key, usage[key.id]))


@management.post(
    "/keys/{key_hash}/rotate", dependencies=CAN_WRITE, response_model=CreatedKey, responses=NOT_FOUND
)
async def rotate_key(
    key_hash: str, session: Session, principal: ManagementPrincipal, body: RotateKeyBody | None = None
) -> CreatedKey:
    """A new secret for the key (shown this once); the old one works for grace_seconds more."""
    grace = body.grace_seconds if body is not None else DEFAULT_GRACE_SECONDS
    key, plaintext = await keys.rotate_key(
        session=session, principal=principal, key_hash=key_hash, grace_seconds=grace
    )
    usage = await usage_for_keys(session, [key], utcnow())
    return CreatedKey(data=KeyObject.of(key, usage[key.id]), key=plaintext)


@management.delete("/keys/{key_hash}", dependencies=CAN_WRITE, response_model=Deleted, responses=NOT_FOUND)
async def delete_key(key_hash: str, session: Session, principal: ManagementPrincipal) -> Deleted:
    await keys.delete_key(session=session, principal=principal, key_hash=key_hash)
    return Deleted(deleted=True)


@any_key.get("/key", response_model=CurrentKeyData)
async def current_key(session: Session, principal: KeyPrincipal) -> CurrentKeyData:
    key = principal.require_key()
    now = utcnow()
    usage = await usage_for_keys(session, [key], now)
    return CurrentKeyData(data=CurrentKey.of(key, usage[key.id], now))
