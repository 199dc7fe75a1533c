"""Keys: every inference key the user may see across workspaces, search, create (secret shown once),
disable/enable, delete after a confirmation. Calls keys.service as the keys API does."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.deps import Session
from keyplane.errors import KeyplaneError
from keyplane.keys import service as keys
from keyplane.keys.schemas import KeyCreate, KeyUpdate
from keyplane.models import ApiKey
from keyplane.models.base import utcnow
from keyplane.surfaces.dashboard.common import context_of
from keyplane.surfaces.dashboard.forms import Form, attempt, midnight, read_form
from keyplane.surfaces.dashboard.render import done, render
from keyplane.surfaces.dashboard.session import PREFIX, DashboardUser, SignedIn
from keyplane.usage.key_usage import usage_for_keys
from keyplane.workspaces.service import list_workspaces

router = APIRouter(prefix=PREFIX, include_in_schema=False)
PAGE = 50
KeyHash = Annotated[str, Path(max_length=64)]
RESETS = ("", "daily", "weekly", "monthly")


async def keys_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    *,
    q: str = "",
    offset: int = 0,
    form: dict[str, str] | None = None,
    error: str | None = None,
    created: tuple[ApiKey, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    found = await keys.list_keys(
        session=session,
        principal=user.principal,
        workspace_id=None,
        include_disabled=True,
        include_expired=True,
        offset=offset,
        limit=PAGE + 1,
        kind="inference",
        search=q or None,
    )
    more, found = len(found) > PAGE, found[:PAGE]
    now = utcnow()
    usage = await usage_for_keys(session, found, now)
    workspaces = await list_workspaces(session=session, org_id=user.principal.require_org())
    return render(
        request,
        "keys.html",
        user,
        title="Keys",
        keys=found,
        usage=usage,
        now=now,
        workspaces=workspaces,
        names={w.id: w.name for w in workspaces},
        q=q,
        offset=offset,
        more=more,
        page=PAGE,
        form=form or {},
        resets=RESETS,
        error=error,
        created=created,
        status=status,
    )


@router.get("/keys", response_class=HTMLResponse)
async def list_keys(
    request: Request,
    session: Session,
    user: SignedIn,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
) -> HTMLResponse:
    return await keys_page(request, session, user, q=q.strip(), offset=offset)


def _create_params(form: Form) -> KeyCreate:
    return KeyCreate(
        name=form.text("name"),
        limit_usd=form.usd("limit", "Limit (USD)"),
        limit_reset=form.optional("limit_reset"),
        expires_at=midnight(form.day("expires", "Expires")),
        workspace_id=form.optional("workspace_id"),
        allowed_models=form.split("allowed_models"),
        rate_limit_rpm=form.integer("rpm", "Requests per minute"),
        rate_limit_tpm=form.integer("tpm", "Tokens per minute"),
    )


@router.post("/keys", response_class=HTMLResponse)
async def create_key(request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    """The secret is rendered in this answer only (never stored, never in a URL)."""
    form = await read_form(request)
    cap = context_of(request).settings.max_keys_per_org

    async def create() -> tuple[ApiKey, str]:
        return await keys.create_key(
            session=session, principal=user.principal, params=_create_params(form), default_org_cap=cap
        )

    result = await attempt(session, create())
    if isinstance(result, KeyplaneError):
        return await keys_page(
            request, session, user, form=form, error=result.message, status=result.status_code
        )
    return await keys_page(request, session, user, created=result)


async def _update(
    request: Request, session: AsyncSession, user: DashboardUser, key_hash: str, **fields: Any
) -> Response:
    result = await attempt(
        session,
        keys.update_key(
            session=session, principal=user.principal, key_hash=key_hash, params=KeyUpdate(**fields)
        ),
    )
    if isinstance(result, KeyplaneError):
        return await keys_page(request, session, user, error=result.message, status=result.status_code)
    return done("/keys", "key-updated")


@router.post("/keys/{key_hash}/disable")
async def disable_key(key_hash: KeyHash, request: Request, session: Session, user: SignedIn) -> Response:
    return await _update(request, session, user, key_hash, disabled=True)


@router.post("/keys/{key_hash}/enable")
async def enable_key(key_hash: KeyHash, request: Request, session: Session, user: SignedIn) -> Response:
    return await _update(request, session, user, key_hash, disabled=False)


@router.get("/keys/{key_hash}/delete", response_class=HTMLResponse)
async def confirm_delete(
    key_hash: KeyHash, request: Request, session: Session, user: SignedIn
) -> HTMLResponse:
    key = await keys.get_key(session=session, principal=user.principal, key_hash=key_hash)
    return render(
        request,
        "confirm.html",
        user,
        title="Delete key",
        what=f"the key “{key.name}”",
        action=f"{PREFIX}/keys/{key.hash}/delete",
        back=f"{PREFIX}/keys",
        detail="Requests with it are refused at once; its usage stays in the reports.",
    )


@router.post("/keys/{key_hash}/delete")
async def delete_key(key_hash: KeyHash, request: Request, session: Session, user: SignedIn) -> Response:
    result = await attempt(
        session, keys.delete_key(session=session, principal=user.principal, key_hash=key_hash)
    )
    if isinstance(result, KeyplaneError):
        return await keys_page(request, session, user, error=result.message, status=result.status_code)
    return done("/keys", "key-deleted")


def _edit_values(key: ApiKey) -> dict[str, str]:
    limit = key.limit_nanousd
    return {
        "name": key.name,
        "limit": "" if limit is None else f"{limit / 1e9:g}",
        "limit_reset": key.limit_reset or "",
        "expires": key.expires_at.date().isoformat() if key.expires_at else "",
        "allowed_models": ", ".join(key.allowed_models or []),
        "rpm": "" if key.rate_limit_rpm is None else str(key.rate_limit_rpm),
        "tpm": "" if key.rate_limit_tpm is None else str(key.rate_limit_tpm),
    }


async def _edit_page(
    request: Request,
    session: AsyncSession,
    user: DashboardUser,
    key_hash: str,
    *,
    form: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    key = await keys.get_key(session=session, principal=user.principal, key_hash=key_hash)
    return render(
        request,
        "key_edit.html",
        user,
        title=f"Edit key “{key.name}”",
        key=key,
        form=form or _edit_values(key),
        resets=RESETS,
        error=error,
        status=status,
    )


@router.get("/keys/{key_hash}/edit", response_class=HTMLResponse)
async def edit_key(key_hash: KeyHash, request: Request, session: Session, user: SignedIn) -> HTMLResponse:
    return await _edit_page(request, session, user, key_hash)


@router.post("/keys/{key_hash}/edit", response_class=HTMLResponse)
async def save_key(key_hash: KeyHash, request: Request, session: Session, user: SignedIn) -> Response:
    """Every field of the form is sent: an emptied one clears that limit (the API's PATCH with null)."""
    form = await read_form(request)

    async def save() -> ApiKey:
        params = KeyUpdate(
            name=form.text("name"),
            limit_usd=form.usd("limit", "Limit (USD)"),
            limit_reset=form.optional("limit_reset"),
            expires_at=midnight(form.day("expires", "Expires")),
            allowed_models=form.split("allowed_models"),
            rate_limit_rpm=form.integer("rpm", "Requests per minute"),
            rate_limit_tpm=form.integer("tpm", "Tokens per minute"),
        )
        return await keys.update_key(
            session=session, principal=user.principal, key_hash=key_hash, params=params
        )

    result = await attempt(session, save())
    if isinstance(result, KeyplaneError):
        return await _edit_page(
            request, session, user, key_hash, form=form, error=result.message, status=result.status_code
        )
    return done("/keys", "key-updated")
