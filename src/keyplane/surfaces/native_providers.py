"""Native provider routes: the catalog (any authenticated caller) and platform-level settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import select

from keyplane.deps import CurrentPrincipal, ProvidersWriter, Session, get_principal
from keyplane.models import ProviderSetting
from keyplane.providers import provider_settings
from keyplane.providers.catalog import PROVIDERS, ProviderInfo, get_provider
from keyplane.providers.schemas import ProviderSettingIn

router = APIRouter(prefix="/api/v1", tags=["providers"], dependencies=[Depends(get_principal)])


def provider_object(info: ProviderInfo, base_url_override: str | None) -> dict[str, Any]:
    return {
        "name": info.name,
        "display_name": info.display_name,
        "api_style": info.api_style,
        "openai_compatible": info.openai_compatible,
        "default_base_url": info.default_base_url,
        "base_url": base_url_override or info.default_base_url,
        "base_url_overridden": base_url_override is not None,
        "eu_native": info.eu_native,
        "zero_data_retention": info.zero_data_retention,
        "quantization": info.quantization,
        "requires_value": info.requires_value,
        "config_field": info.config_field,
    }


@router.get("/providers")
async def list_providers(session: Session, principal: CurrentPrincipal) -> dict[str, Any]:
    overrides = {
        s.provider: s.base_url for s in (await session.execute(select(ProviderSetting))).scalars().all()
    }
    return {"data": [provider_object(info, overrides.get(name)) for name, info in PROVIDERS.items()]}


@router.get("/providers/{provider}")
async def get_provider_info(provider: str, session: Session, principal: CurrentPrincipal) -> dict[str, Any]:
    info = get_provider(provider)
    setting = await session.get(ProviderSetting, info.name)
    return {"data": provider_object(info, setting.base_url if setting else None)}


@router.put("/providers/{provider}/settings")
async def put_provider_settings(
    provider: str, body: ProviderSettingIn, session: Session, principal: ProvidersWriter
) -> dict[str, Any]:
    info = get_provider(provider)
    setting = await provider_settings.put_setting(
        session=session, principal=principal, info=info, base_url=body.base_url
    )
    return {"data": provider_object(info, setting.base_url)}
