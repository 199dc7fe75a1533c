"""Dashboard sessions without a browser: sign-in, cookie flags, CSRF, throttling, redirects, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import DEFAULT_PASSWORD, add_user, make_org
from tests.surfaces.dashboard.helpers import page_csrf, sign_in


@pytest.fixture
async def browser_like(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies and does not follow redirects (each step is asserted)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_signed_out_every_page_redirects_to_sign_in(browser_like: httpx.AsyncClient) -> None:
    for path in ("/dashboard/", "/dashboard/keys", "/dashboard/usage?group=day", "/dashboard/organizations"):
        response = await browser_like.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/dashboard/login"), path
    assert (await browser_like.get("/dashboard/keys")).headers[
        "location"
    ] == "/dashboard/login?next=%2Fdashboard%2Fkeys"


async def test_sign_in_sets_an_httponly_strict_session_cookie(
    browser_like: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("kp_session="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/dashboard"} <= flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    overview = await browser_like.get("/dashboard/")
    assert overview.status_code == 200 and "Sign out" in overview.text


async def test_the_cookie_is_secure_over_https(app: FastAPI, org: BootstrapResult) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        response = await sign_in(client, org.email, DEFAULT_PASSWORD)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("kp_session="))
    assert "secure" in cookie.lower()


async def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(
    browser_like: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    page = await browser_like.get("/dashboard/login")
    assert "secure" not in page.headers["set-cookie"].lower()
    forwarded = await browser_like.get("/dashboard/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in forwarded.headers["set-cookie"].lower()  # the test client is no trusted proxy
    context.settings.trusted_proxies = "127.0.0.1/32"
    transport = httpx.ASGITransport(app=browser_like._transport.app, client=("127.0.0.1", 5000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as proxied:
        behind = await proxied.get("/dashboard/login", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in behind.headers["set-cookie"].lower()


async def test_a_wrong_password_is_an_alert_on_the_sign_in_page(
    browser_like: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await sign_in(browser_like, org.email, "not-the-password")
    assert response.status_code == 401
    assert 'role="alert"' in response.text and "Invalid email or password" in response.text
    assert f'value="{org.email}"' in response.text  # the email is kept, the password never echoed
    assert (await browser_like.get("/dashboard/")).status_code == 303


async def test_sign_in_is_throttled_like_the_api(
    browser_like: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    limit = context.settings.login_max_failures_per_email
    for _ in range(limit):
        assert (await sign_in(browser_like, org.email, "wrong")).status_code == 401
    refused = await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    assert refused.status_code == 429 and 'role="alert"' in refused.text
    assert "Too many failed login attempts" in refused.text
    api = await browser_like.post(
        "/api/v1/auth/login", json={"email": org.email, "password": DEFAULT_PASSWORD}
    )
    assert api.status_code == 429  # one throttle for both doors


async def test_a_post_without_the_csrf_token_is_refused(
    browser_like: httpx.AsyncClient, org: BootstrapResult
) -> None:
    await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    missing = await browser_like.post("/dashboard/keys", data={"name": "csrf"})
    wrong = await browser_like.post("/dashboard/keys", data={"name": "csrf", "csrf_token": "0" * 64})
    assert missing.status_code == wrong.status_code == 403
    assert "text/html" in missing.headers["content-type"] and 'role="alert"' in missing.text
    keys = await browser_like.get("/dashboard/keys")
    assert "No keys yet" in keys.text  # nothing was created
    created = await browser_like.post(
        "/dashboard/keys", data={"name": "csrf", "csrf_token": await page_csrf(browser_like)}
    )
    assert created.status_code == 200 and 'id="new-key"' in created.text


async def test_sign_in_without_its_form_token_is_refused(
    browser_like: httpx.AsyncClient, org: BootstrapResult
) -> None:
    response = await browser_like.post(
        "/dashboard/login", data={"email": org.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 403
    assert "kp_session" not in response.headers.get("set-cookie", "")


async def test_sign_out_ends_the_session(browser_like: httpx.AsyncClient, org: BootstrapResult) -> None:
    await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    response = await browser_like.post(
        "/dashboard/logout", data={"csrf_token": await page_csrf(browser_like)}
    )
    assert response.status_code == 303 and response.headers["location"] == "/dashboard/login"
    assert (await browser_like.get("/dashboard/keys")).status_code == 303


async def test_a_service_error_is_an_alert_with_the_form_values_kept(
    browser_like: httpx.AsyncClient, org: BootstrapResult
) -> None:
    await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    token = await page_csrf(browser_like)
    response = await browser_like.post(
        "/dashboard/keys", data={"csrf_token": token, "name": "kept name", "limit": "-5"}
    )
    assert response.status_code == 400
    assert (
        'role="alert"' in response.text
        and 'value="kept name"' in response.text
        and 'value="-5"' in response.text
    )


async def test_an_unknown_dashboard_page_is_an_html_404(
    browser_like: httpx.AsyncClient, org: BootstrapResult
) -> None:
    await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    response = await browser_like.get("/dashboard/no-such-page")
    assert response.status_code == 404 and response.headers["content-type"].startswith("text/html")
    missing_key = await browser_like.get(f"/dashboard/keys/{'0' * 64}/delete")
    assert missing_key.status_code == 404 and 'role="alert"' in missing_key.text
    assert "Sign out" in missing_key.text and 'aria-label="Main"' in missing_key.text  # still in the layout


async def test_members_see_only_what_their_role_allows(
    browser_like: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    await add_user(context, org_id=org.org_id, email="member@acme.test", role="member")
    await sign_in(browser_like, "member@acme.test", DEFAULT_PASSWORD)
    overview = await browser_like.get("/dashboard/")
    assert (
        ">Keys</a>" in overview.text
        and ">Members</a>" not in overview.text
        and ">Audit log</a>" not in overview.text
    )
    for path in ("/dashboard/members", "/dashboard/audit", "/dashboard/organizations", "/dashboard/prices"):
        assert (await browser_like.get(path)).status_code == 403, path


async def test_a_tenant_admin_gets_no_operator_pages(
    browser_like: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Globex", email="boss@globex.test")
    await sign_in(browser_like, tenant.email, DEFAULT_PASSWORD)
    overview = await browser_like.get("/dashboard/")
    assert ">Members</a>" in overview.text and ">Organizations</a>" not in overview.text
    assert (await browser_like.get("/dashboard/organizations")).status_code == 403
    assert (await browser_like.get("/dashboard/prices")).status_code == 403
    token = await page_csrf(browser_like)
    credit = await browser_like.post(
        f"/dashboard/organizations/{tenant.org_id}/credit", data={"csrf_token": token, "amount": "5"}
    )
    assert credit.status_code == 403


async def test_a_user_in_two_orgs_switches_from_the_header(
    browser_like: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Globex", email="boss@globex.test")
    from keyplane.db import session_scope
    from keyplane.orgs.service import add_member

    async with session_scope(context.sessions) as session:
        await add_member(session=session, org_id=tenant.org_id, user_id=org.user_id, role="member")
    await sign_in(browser_like, org.email, DEFAULT_PASSWORD)
    page = await browser_like.get("/dashboard/")
    assert 'id="org-switch"' in page.text and "Globex" in page.text
    switched = await browser_like.post(
        "/dashboard/switch-org", data={"csrf_token": await page_csrf(browser_like), "org_id": tenant.org_id}
    )
    assert switched.status_code == 303
    now = await browser_like.get("/dashboard/")
    assert "· member" in now.text and ">Members</a>" not in now.text


async def test_a_suspended_orgs_session_gets_nothing(
    browser_like: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    tenant = await make_org(context, name="Globex", email="boss@globex.test")
    await sign_in(browser_like, tenant.email, DEFAULT_PASSWORD)
    assert (await browser_like.get("/dashboard/keys")).status_code == 200
    from keyplane.db import session_scope
    from keyplane.kernel.principal import SYSTEM
    from keyplane.orgs.tenants import update_tenant

    async with session_scope(context.sessions) as session:
        await update_tenant(
            session=session, principal=SYSTEM.acting_in(org.org_id), org_id=tenant.org_id, status="suspended"
        )
    refused = await browser_like.get("/dashboard/keys")
    assert refused.status_code == 403 and "suspended" in refused.text
    again = await sign_in(browser_like, tenant.email, DEFAULT_PASSWORD)
    assert again.status_code == 403 and 'role="alert"' in again.text
