"""Dashboard sign-in state: a session cookie (the API's session JWT), the chosen org, CSRF tokens.

The cookie is HttpOnly and SameSite=Strict, and Secure whenever the request came over TLS (directly
or through a trusted proxy's X-Forwarded-Proto). The CSRF token is an HMAC of the session token with
the server secret: no server-side state, and it changes with every sign-in.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.client_address import is_trusted, parse_ip
from keyplane.auth.service import OrganizationSuspended, operator_org_id
from keyplane.auth.sessions import decode_session_token
from keyplane.deps import Session, client_ip, get_context
from keyplane.errors import Forbidden, KeyplaneError, Unauthorized
from keyplane.kernel.principal import Principal
from keyplane.models import User
from keyplane.orgs.user_orgs import UserOrg, orgs_of_user

SESSION_COOKIE = "kp_session"
ORG_COOKIE = "kp_org"
CSRF_FIELD = "csrf_token"
PREFIX = "/dashboard"


class SignedOut(Unauthorized):
    """No valid dashboard session: the error layer redirects to the sign-in page."""

    def __init__(self) -> None:
        super().__init__("Please sign in", code="signed_out")


@dataclass(slots=True)
class DashboardUser:
    """The signed-in user acting in one org, with the Principal every service call takes."""

    email: str
    principal: Principal
    orgs: list[UserOrg]
    org: UserOrg
    csrf: str

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin

    @property
    def is_operator_admin(self) -> bool:
        return self.principal.is_operator_admin


def csrf_token(secret: str, session_token: str) -> str:
    return hmac.new(secret.encode(), b"dashboard-csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def is_https(request: Request) -> bool:
    """TLS seen by the client: the request's own scheme, or a trusted proxy's X-Forwarded-Proto."""
    if request.url.scheme == "https":
        return True
    address = parse_ip(request.client.host if request.client else None)
    trusted = get_context(request).settings.trusted_proxy_networks
    if address is None or not is_trusted(address, trusted):
        return False
    return request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower() == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PREFIX,
        httponly=True,
        samesite="strict",
        secure=is_https(request),
    )


def clear_cookies(response: Response) -> None:
    for name in (SESSION_COOKIE, ORG_COOKIE):
        response.delete_cookie(name, path=PREFIX, httponly=True, samesite="strict")


def choose_org(orgs: list[UserOrg], wanted: str | None) -> UserOrg:
    """The org asked for (when the user is in it and it is active), else the first active one."""
    active = [org for org in orgs if not org.suspended]
    if not active:
        raise OrganizationSuspended() if orgs else Forbidden("You are not a member of any organization")
    return next((org for org in active if org.org_id == wanted), active[0])


async def load_user(request: Request, session: AsyncSession) -> DashboardUser:
    """The session cookie's user in the chosen org; SignedOut when there is no valid session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignedOut()
    context = get_context(request)
    try:
        claims = decode_session_token(token, secret=context.secret_key)
    except KeyplaneError as exc:
        raise SignedOut() from exc
    user = await session.get(User, claims.user_id)
    if user is None:
        raise SignedOut()
    orgs = await orgs_of_user(session=session, user_id=user.id)
    org = choose_org(orgs, request.cookies.get(ORG_COOKIE))
    principal = Principal(
        kind="user",
        user_id=user.id,
        org_id=org.org_id,
        role=org.role,
        ip_address=client_ip(request),
        is_operator=org.org_id == await operator_org_id(session),
    )
    return DashboardUser(user.email, principal, orgs, org, csrf_token(context.secret_key, token))


async def signed_in(request: Request, session: Session) -> DashboardUser:
    """Every dashboard page but sign-in: the user, and on a POST a checked CSRF token."""
    found = await load_user(request, session)
    request.state.dashboard_user = found  # an error page after this point keeps the header and menu
    if request.method == "POST":
        form = await request.form()
        sent = form.get(CSRF_FIELD)
        if not isinstance(sent, str) or not hmac.compare_digest(sent, found.csrf):
            raise Forbidden("The form's CSRF token is missing or wrong: reload the page", code="csrf_failed")
    return found


SignedIn = Annotated[DashboardUser, Depends(signed_in)]
