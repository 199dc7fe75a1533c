"""Errors under /dashboard are pages, not JSON: signed out goes to sign-in, the rest an HTML page."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from keyplane.surfaces.dashboard.render import render
from keyplane.surfaces.dashboard.session import PREFIX

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    429: "Too many requests",
}


def is_dashboard_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def dashboard_error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if status == 401:
        target = request.url.path if request.method == "GET" else PREFIX + "/"
        query = "" if target in (PREFIX + "/", PREFIX + "/login") else "?" + urlencode({"next": target})
        return RedirectResponse(f"{PREFIX}/login{query}", status_code=303)
    title = TITLES.get(status, "Something went wrong" if status >= 500 else "Error")
    user = getattr(request.state, "dashboard_user", None)  # set once the session was read
    response = render(request, "error.html", user, title=title, error=message, status=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response
