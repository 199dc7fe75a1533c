"""Native provider routes: the catalog (any authenticated caller) and platform-level settings."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel
from sqlalchemy import select

from keyplane.deps import CurrentPrincipal, ProvidersWriter, Session, get_principal
from keyplane.models import ProviderSetting
from keyplane.providers import provider_settings
from keyplane.providers.catalog import PROVIDERS, ProviderInfo, get_provider
from keyplane.providers.schemas import ProviderSettingIn
from keyplane.surfaces.error_models import error_responses

router = APIRouter(
    prefix="/api/v1",
    tags=["providers"],
    dependencies=[Depends(get_principal)],
    responses=error_responses("openrouter", 400, 401, 403),
)
UNKNOWN_PROVIDER = error_responses("openrouter", 404)


class ProviderOut(BaseModel):
    """A catalog entry; `base_url` is the operator's override when set, else the default."""

    name: str
    display_name: str
    api_style: str
    openai_compatible: bool
    default_base_url: str | None
    base_url: str | None
    base_url_overridden: bool
    eu_native: bool
    zero_data_retention: bool
    quantization: bool
    requires_value: bool
    config_field: str | None


class ProviderList(BaseModel):
    data: list[ProviderOut]


class ProviderData(BaseModel):
    data: ProviderOut


def provider_object(info: ProviderInfo, base_url_override: str | None) -> ProviderOut:
    return ProviderOut(
        name=info.name,
        display_name=info.display_name,
        api_style=info.api_style,
        openai_compatible=info.openai_compatible,
        default_base_url=info.default_base_url,
        base_url=base_url_override or info.default_base_url,
        base_url_overridden=base_url_override is not None,
        eu_native=info.eu_native,
        zero_data_retention=info.zero_data_retention,
        quantization=info.quantization,
        requires_value=info.requires_value,
        config_field=info.config_field,
    )


@router.get("/providers", response_model=ProviderList)
async def list_providers(session: Session, principal: CurrentPrincipal) -> ProviderList:
    overrides = {
        s.provider: s.base_url for s in (await session.execute(select(ProviderSetting))).scalars().all()
    }
    return ProviderList(data=[provider_object(info, overrides.get(name)) for name, info in PROVIDERS.items()])


@router.get("/providers/{provider}", response_model=ProviderData, responses=UNKNOWN_PROVIDER)
async def get_provider_info(provider: str, session: Session, principal: CurrentPrincipal) -> ProviderData:
    info = get_provider(provider)
    setting = await session.get(ProviderSetting, info.name)
    return ProviderData(data=provider_object(info, setting.base_url if setting else None))


@router.put("/providers/{provider}/settings", response_model=ProviderData, responses=UNKNOWN_PROVIDER)
async def put_provider_settings(
    provider: str, body: ProviderSettingIn, session: Session, principal: ProvidersWriter
) -> ProviderData:
    info = get_provider(provider)
    setting = await provider_settings.put_setting(
        session=session, principal=principal, info=info, base_url=body.base_url
    )
    return ProviderData(data=provider_object(info, setting.base_url))
