"""Templates and the one render call every page uses: layout, navigation by role, CSRF, errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from keyplane.kernel.money import nanos_to_usd
from keyplane.surfaces.dashboard.session import CSRF_FIELD, PREFIX, DashboardUser

TEMPLATES_DIR = Path(__file__).parent / "templates"
# Pages are HTML for people; no script, style or frame comes from anywhere but keyplane.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    path: str
    admin: bool = False
    operator: bool = False


NAV = (
    NavItem("Overview", "/"),
    NavItem("Keys", "/keys"),
    NavItem("Usage", "/usage"),
    NavItem("Providers", "/providers"),
    NavItem("Budgets", "/budgets"),
    NavItem("Members", "/members", admin=True),
    NavItem("Workspaces", "/workspaces"),
    NavItem("Audit log", "/audit", admin=True),
    NavItem("Organizations", "/organizations", operator=True),
    NavItem("Prices", "/prices", operator=True),
)


def usd(nanos: int | None) -> str:
    if nanos is None:
        return "—"
    value = nanos_to_usd(nanos)
    return f"${value:,.4f}" if 0 < abs(value) < 1 else f"${value:,.2f}"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else "—"


environment = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR), autoescape=select_autoescape(default=True), enable_async=False
)
environment.filters["usd"] = usd
environment.filters["when"] = when
environment.globals["prefix"] = PREFIX
environment.globals["csrf_field"] = CSRF_FIELD


def nav_for(user: DashboardUser) -> list[NavItem]:
    return [
        item
        for item in NAV
        if (not item.admin or user.is_admin) and (not item.operator or user.is_operator_admin)
    ]


def render(
    request: Request,
    template: str,
    user: DashboardUser | None = None,
    *,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """A page in the layout; `error` (a service's message) lands in the page's role=alert box."""
    page = environment.get_template(template)
    html = page.render(
        request=request,
        user=user,
        nav=nav_for(user) if user is not None else [],
        current=request.url.path.removeprefix(PREFIX) or "/",
        notice=NOTICES.get(request.query_params.get("done", "")),
        **values,
    )
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


# POST-redirect-GET: the redirect names what happened; the text is ours, never the query's.
NOTICES = {
    "key-updated": "Key updated.",
    "key-deleted": "Key deleted.",
    "provider-saved": "Credential saved.",
    "provider-deleted": "Credential deleted.",
    "models-refreshed": "Models refreshed.",
    "setting-saved": "Provider setting saved.",
    "member-updated": "Member updated.",
    "member-removed": "Member removed.",
    "invitation-cancelled": "Invitation cancelled.",
    "org-updated": "Organization updated.",
    "credit-added": "Credit added.",
    "budget-saved": "Budget saved.",
    "budget-deleted": "Budget deleted.",
    "workspace-saved": "Workspace saved.",
    "config-saved": "Project config saved.",
    "price-saved": "Price saved.",
    "price-deleted": "Price deleted.",
    "rate-saved": "Exchange rate saved.",
}


def done(path: str, notice: str) -> RedirectResponse:
    """After a change: back to a page by GET, with what happened."""
    separator = "&" if "?" in path else "?"
    return RedirectResponse(f"{PREFIX}{path}{separator}done={notice}", status_code=303)
