"""Cortecs management API at /v1/manage: keys by name, the project config, the user's balance.

A Cortecs "project" is the workspace of the calling management key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from keyplane.billing.ledger import balance_nanos
from keyplane.deps import ManagementPrincipal, Session, get_context, require_management_key
from keyplane.kernel.money import nanos_to_usd
from keyplane.kernel.scopes import BALANCE_READ, SETTINGS_READ, require_scope
from keyplane.keys import named_keys
from keyplane.keys.caps import KeyCaps
from keyplane.models import ProjectConfig
from keyplane.project_configs import service as project_configs
from keyplane.project_configs.schemas import ProjectConfigUpdate

# Management keys only: an inference key or a user session gets 403, a bad token 401.
router = APIRouter(prefix="/v1/manage", tags=["cortecs"], dependencies=[Depends(require_management_key)])


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=10_000)
    is_management_key: StrictBool = False


class DeleteKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=10_000)


def _unix(value: datetime) -> int:
    return int(value.timestamp())


def _iso(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as Cortecs writes it (2025-09-25T08:29:50.735Z)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _project_config_object(config: ProjectConfig) -> dict[str, Any]:
    return {
        "_id": config.id,
        "project_id": config.workspace_id,
        "inference_config": project_configs.inference_config_of(config),
        "allow_overwrite": config.allow_overwrite,
        "created_at": _iso(config.created_at),
        "updated_at": _iso(config.updated_at),
    }


@router.get("/api-keys")
async def list_api_keys(session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    found = await named_keys.list_user_keys(session=session, principal=principal)
    return {
        "api_keys": [
            {"name": key.name, "created_at": _unix(key.created_at), "is_management_key": key.is_management}
            for key in found
        ]
    }


@router.post("/api-keys", status_code=201)
async def create_api_key(
    body: CreateKeyBody, request: Request, session: Session, principal: ManagementPrincipal
) -> JSONResponse:
    key, plaintext = await named_keys.create_named_key(
        session=session,
        principal=principal,
        name=body.name,
        management=body.is_management_key,
        caps=KeyCaps.of(get_context(request).settings),
    )
    return JSONResponse(
        {"name": key.name, "is_management_key": key.is_management, "api_key": plaintext}, status_code=201
    )


@router.delete("/api-keys")
async def delete_api_key(
    body: DeleteKeyBody, session: Session, principal: ManagementPrincipal
) -> dict[str, Any]:
    key = await named_keys.delete_named_key(session=session, principal=principal, name=body.name)
    return {"success": True, "deleted": key.name}


@router.get("/project-configs")
async def get_project_config(session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    require_scope(principal, SETTINGS_READ)
    config = await project_configs.get_project_config(
        session=session, org_id=principal.require_org(), workspace_id=principal.require_key().workspace_id
    )
    return _project_config_object(config)


@router.put("/project-configs")
async def update_project_config(
    body: ProjectConfigUpdate, session: Session, principal: ManagementPrincipal
) -> dict[str, Any]:
    await project_configs.update_project_config(
        session=session,
        principal=principal,
        workspace_id=principal.require_key().workspace_id,
        update=body,
    )
    return {"success": True}


@router.get("/users/balance")
async def user_balance(request: Request, session: Session, principal: ManagementPrincipal) -> dict[str, Any]:
    """The balance of the key's org, which pays for its users' requests, in the base currency."""
    require_scope(principal, BALANCE_READ)
    nanos = await balance_nanos(session=session, org_id=principal.require_org())
    return {
        "current_balance": round(nanos_to_usd(nanos), 9),
        "currency": get_context(request).settings.base_currency,
    }
