"""Signing in to the dashboard over HTTP the way a browser does: read the form's CSRF token, post."""

from __future__ import annotations

import re

import httpx

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found is not None, html[:500]
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    """The sign-in POST's answer (303 on success); the client keeps the cookies."""
    page = await client.get("/dashboard/login")
    return await client.post(
        "/dashboard/login", data={"csrf_token": csrf_of(page.text), "email": email, "password": password}
    )


async def page_csrf(client: httpx.AsyncClient, path: str = "/dashboard/keys") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text[:500]
    return csrf_of(page.text)
