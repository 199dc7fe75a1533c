"""Cortecs management API at /v1/manage: keys by name, the project config, the user's balance.

A Cortecs "project" is the workspace of the calling management key.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
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
from keyplane.surfaces.error_models import error_responses

# Management keys only: an inference key or a user session gets 403, a bad token 401.
router = APIRouter(
    prefix="/v1/manage",
    tags=["cortecs"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("cortecs", 400, 401, 403),
)
NOT_FOUND = error_responses("cortecs", 404)


class CreateKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=10_000)
    is_management_key: StrictBool = False


class DeleteKeyBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=10_000)


class ApiKeyOut(BaseModel):
    name: str
    created_at: int = Field(description="Unix seconds")
    is_management_key: bool


class ApiKeyList(BaseModel):
    api_keys: list[ApiKeyOut]


class CreatedApiKey(BaseModel):
    """`api_key` is the plaintext, shown this once."""

    name: str
    is_management_key: bool
    api_key: str


class DeletedApiKey(BaseModel):
    success: bool
    deleted: str


class InferenceConfigOut(BaseModel):
    allowed_providers: list[str]
    eu_native: bool
    allow_quantization: bool
    allow_zero_data_retention: bool
    enable_model_fallback: bool
    preference: str | None
    max_tokens: int | None


class ProjectConfigOut(BaseModel):
    """Cortecs's ProjectConfig; the project is the calling key's workspace."""

    model_config = ConfigDict(populate_by_name=True)

    id: str = Field(alias="_id")
    project_id: str
    inference_config: InferenceConfigOut
    allow_overwrite: bool
    created_at: str
    updated_at: str


class Success(BaseModel):
    success: bool


class UserBalance(BaseModel):
    current_balance: float
    currency: str


def _unix(value: datetime) -> int:
    return int(value.timestamp())


def _iso(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds, as Cortecs writes it (2025-09-25T08:29:50.735Z)."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _project_config_object(config: ProjectConfig) -> ProjectConfigOut:
    return ProjectConfigOut(
        id=config.id,
        project_id=config.workspace_id,
        inference_config=InferenceConfigOut.model_validate(project_configs.inference_config_of(config)),
        allow_overwrite=config.allow_overwrite,
        created_at=_iso(config.created_at),
        updated_at=_iso(config.updated_at),
    )


@router.get("/api-keys", response_model=ApiKeyList)
async def list_api_keys(session: Session, principal: ManagementPrincipal) -> ApiKeyList:
    found = await named_keys.list_user_keys(session=session, principal=principal)
    return ApiKeyList(
        api_keys=[
            ApiKeyOut(name=key.name, created_at=_unix(key.created_at), is_management_key=key.is_management)
            for key in found
        ]
    )


@router.post("/api-keys", status_code=201, response_model=CreatedApiKey)
async def create_api_key(
    body: CreateKeyBody, request: Request, session: Session, principal: ManagementPrincipal
) -> CreatedApiKey:
    key, plaintext = await named_keys.create_named_key(
        session=session,
        principal=principal,
        name=body.name,
        management=body.is_management_key,
        caps=KeyCaps.of(get_context(request).settings),
    )
    return CreatedApiKey(name=key.name, is_management_key=key.is_management, api_key=plaintext)


@router.delete("/api-keys", response_model=DeletedApiKey, responses=NOT_FOUND)
async def delete_api_key(
    body: DeleteKeyBody, session: Session, principal: ManagementPrincipal
) -> DeletedApiKey:
    key = await named_keys.delete_named_key(session=session, principal=principal, name=body.name)
    return DeletedApiKey(success=True, deleted=key.name)


@router.get("/project-configs", response_model=ProjectConfigOut, responses=NOT_FOUND)
async def get_project_config(session: Session, principal: ManagementPrincipal) -> ProjectConfigOut:
    require_scope(principal, SETTINGS_READ)
    config = await project_configs.get_project_config(
        session=session, org_id=principal.require_org(), workspace_id=principal.require_key().workspace_id
    )
    return _project_config_object(config)


@router.put("/project-configs", response_model=Success, responses=NOT_FOUND)
async def update_project_config(
    body: ProjectConfigUpdate, session: Session, principal: ManagementPrincipal
) -> Success:
    await project_configs.update_project_config(
        session=session,
        principal=principal,
        workspace_id=principal.require_key().workspace_id,
        update=body,
    )
    return Success(success=True)


@router.get("/users/balance", response_model=UserBalance)
async def user_balance(request: Request, session: Session, principal: ManagementPrincipal) -> UserBalance:
    """The balance of the key's org, which pays for its users' requests, in the base currency."""
    require_scope(principal, BALANCE_READ)
    nanos = await balance_nanos(session=session, org_id=principal.require_org())
    return UserBalance(
        current_balance=round(nanos_to_usd(nanos), 9), currency=get_context(request).settings.base_currency
    )
