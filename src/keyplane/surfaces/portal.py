"""Portal management API at /api/v1/portal/management (seed 002): keys with a user JWT,
balance and usage with an sk_mg_ key; every answer in the {meta, data} envelope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from keyplane.billing.exchange import convert_from_base
from keyplane.billing.ledger import balance_nanos
from keyplane.deps import CurrentPrincipal, Session, get_context
from keyplane.errors import Forbidden, Unauthorized
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import BALANCE_READ, require_scope
from keyplane.keys import own_keys
from keyplane.keys.caps import KeyCaps
from keyplane.models.base import utcnow
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.portal_schemas import PortalKeyCreate, PortalKeyRef, PortalKeyRotate, PortalKeyUpdate
from keyplane.surfaces.portal_shapes import (
    BalanceAnswer,
    CreatedKeyAnswer,
    DeletedKeyAnswer,
    DeletedPortalKey,
    KeyAnswer,
    KeyListAnswer,
    UsageAnswer,
    balance_object,
    created_key_object,
    key_object,
    meta,
    usage_object,
)
from keyplane.surfaces.portal_usage import portal_usage_page

PREFIX = "/api/v1/portal/management"


async def require_portal_user(principal: CurrentPrincipal) -> Principal:
    if principal.kind != "user":
        raise Unauthorized(
            "This endpoint needs a user session token from POST /api/v1/auth/login, not an API key",
            code="user_session_required",
        )
    return principal


async def require_portal_key(principal: CurrentPrincipal) -> Principal:
    if principal.kind == "user":
        raise Unauthorized(
            "This endpoint needs a management API key (sk_mg_...), not a user session token",
            code="api_key_required",
        )
    if principal.kind != "management_key":
        raise Forbidden("This endpoint needs a management API key (sk_mg_...)", code="not_management_key")
    return principal


# Auth is declared per router: key management takes a user JWT, balance and usage an sk_mg_ key.
ERRORS = error_responses("portal", 400, 401, 403)
NOT_FOUND = error_responses("portal", 404)
user_router = APIRouter(
    prefix=PREFIX, tags=["portal"], dependencies=[Depends(require_portal_user)], responses=ERRORS
)
key_router = APIRouter(
    prefix=PREFIX, tags=["portal"], dependencies=[Depends(require_portal_key)], responses=ERRORS
)

PortalUser = Annotated[Principal, Depends(require_portal_user)]
PortalKey = Annotated[Principal, Depends(require_portal_key)]
KeyId = Annotated[str, Path(max_length=64)]


def _caps(request: Request) -> KeyCaps:
    return KeyCaps.of(get_context(request).settings)


@user_router.post("/api-keys", response_model=CreatedKeyAnswer, responses=NOT_FOUND)
async def create_api_key(
    body: PortalKeyCreate, request: Request, session: Session, user: PortalUser
) -> CreatedKeyAnswer:
    key, plaintext = await own_keys.create_own_key(
        session=session, user=user, params=body.to_create(), caps=_caps(request)
    )
    return CreatedKeyAnswer(meta=meta(request), data=created_key_object(key, utcnow(), plaintext))


@user_router.get("/api-keys", response_model=KeyListAnswer)
async def list_api_keys(request: Request, session: Session, user: PortalUser) -> KeyListAnswer:
    now = utcnow()
    found = await own_keys.list_own_keys(session=session, user=user)
    return KeyListAnswer(meta=meta(request), data=[key_object(key, now) for key in found])


@user_router.post("/api-keys/revoke", response_model=KeyAnswer, responses=NOT_FOUND)
async def revoke_api_key(
    body: PortalKeyRef, request: Request, session: Session, user: PortalUser
) -> KeyAnswer:
    key = await own_keys.revoke_own_key(session=session, user=user, key_id=body.id)
    return KeyAnswer(meta=meta(request), data=key_object(key, utcnow()))


@user_router.post("/api-keys/restore", response_model=KeyAnswer, responses=NOT_FOUND)
async def restore_api_key(
    body: PortalKeyRef, request: Request, session: Session, user: PortalUser
) -> KeyAnswer:
    key = await own_keys.restore_own_key(session=session, user=user, key_id=body.id, caps=_caps(request))
    return KeyAnswer(meta=meta(request), data=key_object(key, utcnow()))


@user_router.post("/api-keys/rotate", response_model=CreatedKeyAnswer, responses=NOT_FOUND)
async def rotate_api_key(
    body: PortalKeyRotate, request: Request, session: Session, user: PortalUser
) -> CreatedKeyAnswer:
    """A new secret for the key (shown this once); the old one works for grace_seconds more."""
    key, plaintext = await own_keys.rotate_own_key(
        session=session, user=user, key_id=body.id, grace_seconds=body.grace_seconds
    )
    return CreatedKeyAnswer(meta=meta(request), data=created_key_object(key, utcnow(), plaintext))


@user_router.put("/api-keys/{api_key_id}", response_model=KeyAnswer, responses=NOT_FOUND)
async def update_api_key(
    api_key_id: KeyId, body: PortalKeyUpdate, request: Request, session: Session, user: PortalUser
) -> KeyAnswer:
    key = await own_keys.update_own_key(
        session=session, user=user, key_id=api_key_id, params=body.to_update(), caps=_caps(request)
    )
    return KeyAnswer(meta=meta(request), data=key_object(key, utcnow()))


@user_router.delete("/api-keys/{api_key_id}", response_model=DeletedKeyAnswer, responses=NOT_FOUND)
async def delete_api_key(
    api_key_id: KeyId, request: Request, session: Session, user: PortalUser
) -> DeletedKeyAnswer:
    key = await own_keys.delete_own_key(session=session, user=user, key_id=api_key_id)
    return DeletedKeyAnswer(meta=meta(request), data=DeletedPortalKey(id=key.id))


@key_router.get("/balance", response_model=BalanceAnswer)
async def balance(
    request: Request,
    session: Session,
    principal: PortalKey,
    currency_code: Annotated[str | None, Query(max_length=16)] = None,
) -> BalanceAnswer:
    """The balance of the key's org in the base currency or, at operator-set rates, another one."""
    require_scope(principal, BALANCE_READ)
    nanos = await balance_nanos(session=session, org_id=principal.require_org())
    amount, code = await convert_from_base(
        session=session,
        amount_nanos=nanos,
        currency_code=currency_code,
        base_currency=get_context(request).settings.base_currency,
    )
    return BalanceAnswer(meta=meta(request), data=balance_object(amount, code))


@key_router.get("/usage", response_model=UsageAnswer)
async def usage(
    request: Request,
    session: Session,
    principal: PortalKey,
    start_time: int | None = None,
    end_time: int | None = None,
    page: int = 1,
    pagesize: int = 20,
    user_id: Annotated[str | None, Query(max_length=64)] = None,
    token_id: Annotated[str | None, Query(max_length=64)] = None,
) -> UsageAnswer:
    found = await portal_usage_page(
        session=session,
        principal=principal,
        start_time=start_time,
        end_time=end_time,
        page=page,
        page_size=pagesize,
        user_id=user_id,
        token_id=token_id,
    )
    base = get_context(request).settings.base_currency
    usage = usage_object(found, page_number=page, page_size=pagesize, currency_code=base)
    return UsageAnswer(meta=meta(request), data=usage)
