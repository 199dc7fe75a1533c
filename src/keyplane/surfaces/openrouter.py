"""OpenRouter-compatible keys API at /api/v1: keyplane's own keys API too."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from keyplane.deps import KeyPrincipal, ManagementPrincipal, Session, require_management_key
from keyplane.keys import service as keys
from keyplane.keys.schemas import KeyCreate, KeyUpdate
from keyplane.models.base import utcnow
from keyplane.surfaces.openrouter_shapes import current_key_object, key_object
from keyplane.usage.key_usage import usage_for_keys

LimitReset = Literal["daily", "weekly", "monthly"]


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(max_length=10_000)
    limit: float | None = None
    limit_reset: LimitReset | None = None
    include_byok_in_limit: bool = False
    expires_at: datetime | None = None
    workspace_id: str | None = Field(default=None, max_length=64)
    creator_user_id: str | None = Field(default=None, max_length=64)


class UpdateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(default=None, max_length=10_000)
    disabled: bool | None = None
    limit: float | None = None
    limit_reset: LimitReset | None = None
    include_byok_in_limit: bool | None = None
    workspace_id: str | None = Field(default=None, max_length=64)

    def to_update(self) -> KeyUpdate:
        data = self.model_dump(include=self.model_fields_set)
        if "limit" in data:
            data["limit_usd"] = data.pop("limit")
        return KeyUpdate(**data)


# Auth is declared on the routers: management routes cannot be added unauthenticated by mistake.
management = APIRouter(prefix="/api/v1", tags=["keys"], dependencies=[Depends(require_management_key)])
any_key = APIRouter(prefix="/api/v1", tags=["keys"])


@management.get("/keys")
async def list_keys(
    session: Session,
    principal: ManagementPrincipal,
    include_disabled: bool = False,
    include_expired: bool = False,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    workspace_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    found = await keys.list_keys(
        session=session,
        principal=principal,
        workspace_id=workspace_id,
        include_disabled=include_disabled,
        include_expired=include_expired,
        offset=offset,
        kind="inference",
    )
    usage = await usage_for_keys(session, [key.id for key in found], utcnow())
    return {"data": [key_object(key, usage[key.id]) for key in found]}


@management.post("/keys", status_code=201)
async def create_key(body: CreateKeyBody, session: Session, principal: ManagementPrincipal) -> JSONResponse:
    key, plaintext = await keys.create_key(
        session=session,
        principal=principal,
        params=KeyCreate(
            name=body.name,
            limit_usd=body.limit,
            limit_reset=body.limit_reset,
            include_byok_in_limit=body.include_byok_in_limit,
            expires_at=body.expires_at,
            workspace_id=body.workspace_id,
            creator_user_id=body.creator_user_id,
        ),
    )
    usage = await usage_for_keys(session, [key.id], utcnow())
    return JSONResponse({"data": key_object(key, usage[key.id]), "key": plaintext}, status_code=201)


@management.get("/keys/{key_hash}")
async def get_key(key_hash: str, session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    key = await keys.get_key(session=session, principal=principal, key_hash=key_hash)
    usage = await usage_for_keys(session, [key.id], utcnow())
    return {"data": key_object(key, usage[key.id])}


@management.patch("/keys/{key_hash}")
async def update_key(
    key_hash: str, body: UpdateKeyBody, session: Session, principal: ManagementPrincipal
) -> dict[str, Any]:
    key = await keys.update_key(
        session=session, principal=principal, key_hash=key_hash, params=body.to_update()
    )
    usage = await usage_for_keys(session, [key.id], utcnow())
    return {"data": key_object(key, usage[key.id])}


@management.delete("/keys/{key_hash}")
async def delete_key(key_hash: str, session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    await keys.delete_key(session=session, principal=principal, key_hash=key_hash)
    return {"deleted": True}


@any_key.get("/key")
async def current_key(session: Session, principal: KeyPrincipal) -> dict[str, Any]:
    key = principal.require_key()
    now = utcnow()
    usage = await usage_for_keys(session, [key.id], now)
    return {"data": current_key_object(key, usage[key.id], now)}
