"""Bifrost provider-key API (seed 003) at /api/providers/{provider}/keys and /api/keys.

Management keys only: inference keys and user sessions are refused by the router dependency, and
an `x-api-key` header is never read, so it authenticates nothing. Errors use Bifrost's shape
(chosen by path prefix in error_shapes.py).

List shapes: `GET /api/providers/{provider}/keys` answers `{"keys": [...], "total": n}`;
`GET /api/keys` answers a bare array of key objects, as Bifrost does. A platform key shown to
anyone but the operator's admins carries only id, name, provider, models and `platform`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from keyplane.deps import ProvidersReader, ProvidersWriteAdmin, Session, get_context, require_management_key
from keyplane.kernel.principal import Principal
from keyplane.models import ProviderCredential
from keyplane.providers import discovery
from keyplane.providers import service as credentials
from keyplane.providers.catalog import CONFIG_FIELDS
from keyplane.providers.fields import ENV_FIELDS, render_field
from keyplane.providers.policy import ProviderPolicy
from keyplane.providers.schemas import CredentialIn
from keyplane.providers.secrets import SecretBox, box_for
from keyplane.providers.service import Visibility, shows_details
from keyplane.surfaces.bifrost_schemas import (
    AnyProviderKey,
    EnvVarOut,
    PlatformProviderKey,
    ProviderKey,
    ProviderKeyList,
)
from keyplane.surfaces.error_models import error_responses

router = APIRouter(
    prefix="/api",
    tags=["bifrost"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("bifrost", 400, 401, 403),
)
# exclude_unset: a provider config block the key does not have stays out of the answer.
ONE_KEY: dict[str, Any] = {
    "response_model": AnyProviderKey,
    "response_model_exclude_unset": True,
    "responses": error_responses("bifrost", 404),
}
WRITE: dict[str, Any] = {**ONE_KEY, "responses": error_responses("bifrost", 404, 409)}


def secret_box(request: Request) -> SecretBox:
    context = get_context(request)
    return box_for(context.secret_key, context.settings.secret_key_previous)


def discovery_timeout(request: Request) -> float:
    return get_context(request).settings.provider_discovery_timeout_seconds


def write_discovery(request: Request) -> float | None:
    """The discovery timeout for creates and updates; None when the operator turned that off."""
    settings = get_context(request).settings
    return settings.provider_discovery_timeout_seconds if settings.model_discovery_on_write else None


def visibility(request: Request) -> Visibility:
    return Visibility(show_platform=get_context(request).settings.show_platform_credentials)


def provider_policy(request: Request) -> ProviderPolicy:
    return ProviderPolicy.from_settings(get_context(request).settings)


def key_object(row: ProviderCredential, principal: Principal) -> AnyProviderKey:
    """Seed 003's key object, secrets redacted; keyplane adds provider, platform, discovered_models."""
    if not shows_details(principal, row):
        return PlatformProviderKey(
            id=row.id, name=row.name, models=list(row.models or []), provider=row.provider, platform=True
        )
    blocks: dict[str, Any] = {}
    for field in CONFIG_FIELDS:
        block = (row.config or {}).get(field)
        if isinstance(block, dict):
            rendered = dict(block)
            for name in ENV_FIELDS.get(field, ()):
                if name in rendered:
                    rendered[name] = render_field(rendered[name])
            blocks[field] = rendered
    value = render_field(row.value)
    return ProviderKey(
        id=row.id,
        name=row.name,
        value=EnvVarOut(**value) if value is not None else None,
        models=list(row.models or []),
        blacklisted_models=list(row.blacklisted_models or []),
        weight=row.weight,
        aliases=dict(row.aliases or {}),
        **blocks,
        enabled=row.enabled,
        use_for_batch_api=row.use_for_batch_api,
        config_hash=row.config_hash,
        status=row.status,
        description=row.description,
        provider=row.provider,
        platform=row.org_id is None,
        discovered_models=list(row.discovered_models or []),
    )


@router.get("/keys", response_model=list[AnyProviderKey], response_model_exclude_unset=True)
async def list_all_keys(
    request: Request, session: Session, principal: ProvidersReader
) -> list[AnyProviderKey]:
    rows = await credentials.list_credentials(
        session=session, principal=principal, provider=None, visibility=visibility(request)
    )
    return [key_object(row, principal) for row in rows]


@router.get(
    "/providers/{provider}/keys",
    response_model=ProviderKeyList,
    response_model_exclude_unset=True,
    responses=error_responses("bifrost", 404),
)
async def list_provider_keys(
    provider: str, request: Request, session: Session, principal: ProvidersReader
) -> ProviderKeyList:
    rows = await credentials.list_credentials(
        session=session, principal=principal, provider=provider, visibility=visibility(request)
    )
    return ProviderKeyList(keys=[key_object(row, principal) for row in rows], total=len(rows))


@router.post("/providers/{provider}/keys", **WRITE)
async def create_key(
    provider: str, body: CredentialIn, request: Request, session: Session, principal: ProvidersWriteAdmin
) -> AnyProviderKey:
    row = await credentials.create_credential(
        session=session,
        principal=principal,
        provider=provider,
        body=body,
        box=secret_box(request),
        policy=provider_policy(request),
        discovery_timeout_seconds=write_discovery(request),
    )
    return key_object(row, principal)


@router.get("/providers/{provider}/keys/{key_id}", **ONE_KEY)
async def get_key(
    provider: str, key_id: str, request: Request, session: Session, principal: ProvidersReader
) -> AnyProviderKey:
    row = await credentials.get_credential(
        session=session,
        principal=principal,
        provider=provider,
        key_id=key_id,
        visibility=visibility(request),
    )
    return key_object(row, principal)


@router.put("/providers/{provider}/keys/{key_id}", **WRITE)
async def replace_key(
    provider: str,
    key_id: str,
    body: CredentialIn,
    request: Request,
    session: Session,
    principal: ProvidersWriteAdmin,
) -> AnyProviderKey:
    row = await credentials.replace_credential(
        session=session,
        principal=principal,
        provider=provider,
        key_id=key_id,
        body=body,
        box=secret_box(request),
        visibility=visibility(request),
        policy=provider_policy(request),
        discovery_timeout_seconds=write_discovery(request),
    )
    return key_object(row, principal)


@router.delete("/providers/{provider}/keys/{key_id}", **ONE_KEY)
async def delete_key(
    provider: str, key_id: str, request: Request, session: Session, principal: ProvidersWriteAdmin
) -> AnyProviderKey:
    row = await credentials.delete_credential(
        session=session,
        principal=principal,
        provider=provider,
        key_id=key_id,
        visibility=visibility(request),
    )
    return key_object(row, principal)


@router.post("/providers/{provider}/keys/{key_id}/refresh-models", **ONE_KEY)
async def refresh_models(
    provider: str, key_id: str, request: Request, session: Session, principal: ProvidersWriteAdmin
) -> AnyProviderKey:
    row = await credentials.writable_credential(
        session=session,
        principal=principal,
        provider=provider,
        key_id=key_id,
        visibility=visibility(request),
    )
    row = await discovery.refresh_models(
        session=session,
        principal=principal,
        row=row,
        box=secret_box(request),
        timeout_seconds=discovery_timeout(request),
        policy=provider_policy(request),
    )
    return key_object(row, principal)
