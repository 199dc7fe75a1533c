"""Providers: the org's credentials (and the platform's, for the operator), add with the secret never
shown back, delete after a confirmation, refresh models. Calls the same services as the Bifrost API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.deps import Session
from keyplane.errors import KeyplaneError
from keyplane.models import ProviderCredential
from keyplane.providers import discovery, provider_settings
from keyplane.providers import service as credentials
from keyplane.providers.catalog import PROVIDERS, get_provider
from keyplane.providers.schemas import CredentialIn
from keyplane.surfaces.bifrost import (
    discovery_timeout,
    key_object,
    provider_policy,
    secret_box,
    visibility,
    write_discovery,
)
from keyplane.surfaces.dashboard.forms import Form, attempt, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn

router = APIRouter(prefix=PREFIX, include_in_schema=False)
Provider = Annotated[str, Path(max_length=64)]
KeyId = Annotated[str, Path(max_length=100)]
URL_CONFIGS = ("vllm_key_config", "sgl_key_config", "ollama_key_config")


async def providers_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    rows = await credentials.list_credentials(
        session=session, principal=user.principal, provider=None, visibility=visibility(request)
    )
    return render(
        request,
        "providers.html",
        user,
        title="Providers",
        rows=rows,
        details={row.uid: credentials.shows_details(user.principal, row) for row in rows},
        catalog=sorted(PROVIDERS.values(), key=lambda info: info.display_name.lower()),
        base_urls=await provider_settings.base_url_overrides(session=session)
        if user.is_operator_admin
        else {},
        form=form or {"provider": "openai"},
        error=error,
        status=status,
    )


@router.get("/providers", response_class=HTMLResponse)
async def list_providers(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    return await providers_page(request, session, user)


def _body(form: Form) -> tuple[str, CredentialIn]:
    provider = form.text("provider")
    data: dict[str, Any] = {
        "name": form.text("name"),
        "models": form.split("models") or [],
        "platform": form.checked("platform"),
    }
    if form.text("api_key"):
        data["value"] = form.text("api_key")
    info = PROVIDERS.get(provider)
    if info is not None and info.config_field in URL_CONFIGS and form.text("url"):
        data[info.config_field] = {"url": form.text("url")}
    return provider, CredentialIn.model_validate(data)


@router.post("/providers", response_class=HTMLResponse)
async def add_credential(request: Request, session: Session, user: SignedIn) -> Response:
    form = await read_form(request)

    async def create() -> ProviderCredential:
        provider, body = _body(form)
        return await credentials.create_credential(
            session=session,
            principal=user.principal,
            provider=provider,
            body=body,
            box=secret_box(request),
            policy=provider_policy(request),
            discovery_timeout_seconds=write_discovery(request),
        )

    result = await attempt(session, create())
    if isinstance(result, KeyplaneError):
        kept = {name: value for name, value in form.items() if name != "api_key"}  # never echoed
        return await providers_page(
            request, session, user, form=kept, error=result.message, status=result.status_code
        )
    return done("/providers", "provider-saved")


@router.get("/providers/{provider}/{key_id}/delete", response_class=HTMLResponse)
async def confirm_delete(
    provider: Provider, key_id: KeyId, request: Request, session: Session, user: SignedIn
) -> HTMLResponse:
    row = await credentials.writable_credential(
        session=session,
        principal=user.principal,
        provider=provider,
        key_id=key_id,
        visibility=visibility(request),
    )
    return render(
        request,
        "confirm.html",
        user,
        title="Delete credential",
        what=f"the {row.provider} credential “{row.name}”",
        action=f"{PREFIX}/providers/{row.provider}/{row.id}/delete",
        back=f"{PREFIX}/providers",
        detail="Requests it served move to other credentials, or fail if there is none.",
    )


@router.post("/providers/{provider}/{key_id}/delete")
async def delete_credential(
    provider: Provider, key_id: KeyId, request: Request, session: Session, user: SignedIn
) -> Response:
    result = await attempt(
        session,
        credentials.delete_credential(
            session=session,
            principal=user.principal,
            provider=provider,
            key_id=key_id,
            visibility=visibility(request),
        ),
    )
    if isinstance(result, KeyplaneError):
        return await providers_page(request, session, user, error=result.message, status=result.status_code)
    return done("/providers", "provider-deleted")


@router.post("/providers/{provider}/{key_id}/refresh")
async def refresh_models(
    provider: Provider, key_id: KeyId, request: Request, session: Session, user: SignedIn
) -> Response:
    async def refresh() -> ProviderCredential:
        row = await credentials.writable_credential(
            session=session,
            principal=user.principal,
            provider=provider,
            key_id=key_id,
            visibility=visibility(request),
        )
        return await discovery.refresh_models(
            session=session,
            principal=user.principal,
            row=row,
            box=secret_box(request),
            timeout_seconds=discovery_timeout(request),
            policy=provider_policy(request),
        )

    result = await attempt(session, refresh())
    if isinstance(result, KeyplaneError):
        return await providers_page(request, session, user, error=result.message, status=result.status_code)
    return done("/providers", "models-refreshed")


def _current(row: ProviderCredential, user: DashboardUser) -> dict[str, Any]:
    """The credential as the Bifrost API answers it (secrets redacted): what an edit starts from."""
    shown: dict[str, Any] = key_object(row, user.principal).model_dump(exclude_unset=True)
    return shown


def _edit_form(row: ProviderCredential, current: dict[str, Any]) -> dict[str, str]:
    info = PROVIDERS.get(row.provider)
    block = current.get(info.config_field or "") if info is not None else None
    url = block.get("url") if isinstance(block, dict) else None
    return {
        "name": row.name,
        "models": ", ".join(row.models or []),
        "url": str(url.get("value") or url.get("env_var") or "") if isinstance(url, dict) else str(url or ""),
        "enabled": "on" if row.enabled else "",
    }


async def _edit_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    provider: str,
    key_id: str,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    row = await credentials.writable_credential(
        session=session,
        principal=user.principal,
        provider=provider,
        key_id=key_id,
        visibility=visibility(request),
    )
    info = PROVIDERS.get(row.provider)
    return render(
        request,
        "provider_edit.html",
        user,
        title=f"Edit credential “{row.name}”",
        row=row,
        has_url=info is not None and info.config_field in URL_CONFIGS,
        form=form or _edit_form(row, _current(row, user)),
        error=error,
        status=status,
    )


@router.get("/providers/{provider}/{key_id}/edit", response_class=HTMLResponse)
async def edit_credential(
    provider: Provider, key_id: KeyId, request: Request, session: Session, user: SignedIn
) -> HTMLResponse:
    return await _edit_page(request, session, user, provider, key_id)


@router.post("/providers/{provider}/{key_id}/edit", response_class=HTMLResponse)
async def save_credential(
    provider: Provider, key_id: KeyId, request: Request, session: Session, user: SignedIn
) -> Response:
    """A replace (PUT) of the credential as the API shows it, with the fields of the form changed;
    the redacted secret sent back keeps the stored one unless a new one was typed."""
    form = await read_form(request)

    async def save() -> ProviderCredential:
        row = await credentials.writable_credential(
            session=session,
            principal=user.principal,
            provider=provider,
            key_id=key_id,
            visibility=visibility(request),
        )
        body = _current(row, user)
        body.update(
            name=form.text("name"), models=form.split("models") or [], enabled=form.checked("enabled")
        )
        if form.text("api_key"):
            body["value"] = form.text("api_key")
        info = PROVIDERS.get(row.provider)
        if info is not None and info.config_field in URL_CONFIGS:
            block = dict(body.get(info.config_field) or {})
            block["url"] = form.text("url") or None
            body[info.config_field] = block
        return await credentials.replace_credential(
            session=session,
            principal=user.principal,
            provider=row.provider,
            key_id=row.id,
            body=CredentialIn.model_validate(body),
            box=secret_box(request),
            visibility=visibility(request),
            policy=provider_policy(request),
            discovery_timeout_seconds=write_discovery(request),
        )

    result = await attempt(session, save())
    if isinstance(result, KeyplaneError):
        kept = {name: value for name, value in form.items() if name != "api_key"}
        return await _edit_page(
            request,
            session,
            user,
            provider,
            key_id,
            form=kept,
            error=result.message,
            status=result.status_code,
        )
    return done("/providers", "provider-saved")


@router.post("/provider-settings", response_class=HTMLResponse)
async def save_setting(request: Request, session: Session, user: SignedIn) -> Response:
    """The operator's base URL for a provider (e.g. the custom OpenAI-compatible server); empty resets."""
    form = await read_form(request)

    async def save() -> object:
        info = get_provider(form.text("provider"))
        return await provider_settings.put_setting(
            session=session, principal=user.principal, info=info, base_url=form.optional("base_url")
        )

    result = await attempt(session, save())
    if isinstance(result, KeyplaneError):
        return await providers_page(request, session, user, error=result.message, status=result.status_code)
    return done("/providers", "setting-saved")
