"""The dashboard's router at /dashboard: sign in and out, the org switcher, assets, every page."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

import keyplane
from keyplane.auth.sessions import issue_session_token
from keyplane.auth.throttle import authenticate_login, login_throttle
from keyplane.deps import Session, client_ip, get_context
from keyplane.errors import Forbidden, KeyplaneError
from keyplane.orgs.user_orgs import orgs_of_user
from keyplane.surfaces.dashboard import (
    pages_audit,
    pages_budgets,
    pages_keys,
    pages_members,
    pages_orgs,
    pages_overview,
    pages_prices,
    pages_providers,
    pages_usage,
    pages_workspaces,
)
from keyplane.surfaces.dashboard.forms import read_form
from keyplane.surfaces.dashboard.render import render
from keyplane.surfaces.dashboard.session import (
    CSRF_FIELD,
    ORG_COOKIE,
    PREFIX,
    SESSION_COOKIE,
    SignedIn,
    choose_org,
    clear_cookies,
    csrf_token,
    set_cookie,
)

ASSETS_DIR = Path(keyplane.__file__).parent / "static" / "dashboard"
LOGIN_COOKIE = "kp_login"  # a random value the sign-in form's CSRF token is bound to
LOGIN_COOKIE_SECONDS = 3600
ORG_COOKIE_SECONDS = 365 * 86400

public = APIRouter(prefix=PREFIX, include_in_schema=False)
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _safe_next(value: str | None) -> str:
    """Only a dashboard path: never an open redirect to another site."""
    if value and value.startswith(PREFIX + "/") and not value.startswith("//") and "\\" not in value:
        return value
    return PREFIX + "/"


def _login_page(
    request: Request,
    nonce: str,
    *,
    email: str = "",
    next_path: str = "",
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    response = render(
        request,
        "login.html",
        title="Sign in",
        login_csrf=csrf_token(get_context(request).secret_key, "login:" + nonce),
        email=email,
        next=next_path,
        error=error,
        status=status,
    )
    set_cookie(request, response, LOGIN_COOKIE, nonce, LOGIN_COOKIE_SECONDS)
    return response


@public.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: Annotated[str, Query(max_length=2000)] = "") -> HTMLResponse:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    return _login_page(request, nonce, next_path=_safe_next(next) if next else "")


@public.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: Session) -> Response:
    """Email and password as the API's login (same users, same throttle); then the session cookie."""
    context = get_context(request)
    form = await read_form(request)
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    expected = csrf_token(context.secret_key, "login:" + nonce)
    if not nonce or not hmac.compare_digest(form.text(CSRF_FIELD), expected):
        raise Forbidden("The form's CSRF token is missing or wrong: reload the page", code="csrf_failed")
    email = form.text("email")
    try:
        user = await authenticate_login(
            session=session,
            throttle=login_throttle(context),
            email=email,
            password=form.get("password", ""),
            ip_address=client_ip(request),
        )
        choose_org(await orgs_of_user(session=session, user_id=user.id), None)
    except KeyplaneError as exc:
        return _login_page(
            request,
            nonce,
            email=email,
            next_path=form.text("next"),
            error=exc.message,
            status=exc.status_code,
        )
    ttl = context.settings.jwt_ttl_seconds
    token, _expires = issue_session_token(user.id, secret=context.secret_key, ttl_seconds=ttl)
    response = RedirectResponse(_safe_next(form.text("next")), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, ttl)
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(user: SignedIn) -> Response:
    response = RedirectResponse(PREFIX + "/login", status_code=303)
    clear_cookies(response)
    return response


@router.post("/switch-org")
async def switch_org(request: Request, user: SignedIn) -> Response:
    """Remember the chosen org; one the user is not in (or a suspended one) falls back to the first."""
    wanted = (await read_form(request)).text("org_id")
    org = choose_org(user.orgs, wanted)
    response = RedirectResponse(PREFIX + "/", status_code=303)
    set_cookie(request, response, ORG_COOKIE, org.org_id, ORG_COOKIE_SECONDS)
    return response


PAGE_ROUTERS = (
    pages_overview.router,
    pages_keys.router,
    pages_usage.router,
    pages_providers.router,
    pages_budgets.router,
    pages_members.router,
    pages_workspaces.router,
    pages_audit.router,
    pages_orgs.router,
    pages_prices.router,
)


def install_dashboard(app: FastAPI) -> None:
    """Mount the dashboard: its assets, sign-in, and every page (all signed-in only)."""
    app.mount(PREFIX + "/static", StaticFiles(directory=ASSETS_DIR), name="dashboard-static")
    app.include_router(public)
    app.include_router(router)
    for page_router in PAGE_ROUTERS:
        app.include_router(page_router)

    @app.get(PREFIX, include_in_schema=False)
    async def dashboard_root() -> RedirectResponse:
        return RedirectResponse(PREFIX + "/", status_code=307)
