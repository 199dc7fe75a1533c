"""Portal balance and usage with sk_mg_ keys: currencies, pages, and who may see whose usage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from keyplane.billing.exchange import set_exchange_rate
from keyplane.billing.ledger import add_credit
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import SYSTEM
from keyplane.models import ModelPrice
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage.writer import UsageEvent, write_usage_batch
from tests.factories import bearer, make_key, make_org
from tests.surfaces.test_portal_envelope import (
    PORTAL,
    assert_portal_error,
    assert_portal_ok,
    create_portal_key,
    login,
    member_session,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_balance_in_the_base_and_another_currency(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    async with session_scope(context.sessions) as session:
        await add_credit(session=session, principal=SYSTEM, org_id=org.org_id, amount_nanos=10_000_000_000)
        await set_exchange_rate(session=session, principal=SYSTEM, currency_code="CNY", units_per_base=7.2)
    key = (await create_portal_key(client, await login(client, org.email), name="b"))["api_key"]

    usd = assert_portal_ok(await client.get(f"{PORTAL}/balance", headers=bearer(key)))
    assert usd == {
        "balance": 10.0,
        "balance_str": "10.00",
        "coupon_balance": 0.0,
        "currency_code": "USD",
        "credit_limit": 0.0,
        "total_coupon_amount": 0.0,
    }
    cny = assert_portal_ok(await client.get(f"{PORTAL}/balance?currency_code=cny", headers=bearer(key)))
    assert (cny["balance"], cny["balance_str"], cny["currency_code"]) == (72.0, "72.00", "CNY")

    unknown = await client.get(f"{PORTAL}/balance?currency_code=XYZ", headers=bearer(key))
    assert_portal_error(unknown, 400, "Unknown currency 'XYZ': no exchange rate is set for it")
    malformed = await client.get(f"{PORTAL}/balance?currency_code=12", headers=bearer(key))
    assert "Invalid currency code" in assert_portal_error(malformed, 400)


async def test_balance_and_usage_need_their_scopes(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    jwt = await login(client, org.email)
    usage_only = (await create_portal_key(client, jwt, name="u", scopes=["usage:read"]))["api_key"]
    balance_only = (await create_portal_key(client, jwt, name="b", scopes=["balance:read"]))["api_key"]
    assert_portal_error(
        await client.get(f"{PORTAL}/balance", headers=bearer(usage_only)),
        403,
        "This key lacks the 'balance:read' scope",
    )
    assert_portal_error(
        await client.get(f"{PORTAL}/usage", headers=bearer(balance_only)),
        403,
        "This key lacks the 'usage:read' scope",
    )
    assert_portal_ok(await client.get(f"{PORTAL}/usage", headers=bearer(usage_only)))


async def _seed_usage(context: AppContext, org: BootstrapResult, member_id: str) -> None:
    """Owner: 3 requests on key-o; member: 2 requests on key-m; one hour apart from T0 on."""
    events = []
    for index, (user_id, key_id) in enumerate(
        [
            (org.user_id, "key-o"),
            (member_id, "key-m"),
            (org.user_id, "key-o"),
            (member_id, "key-m"),
            (org.user_id, "key-o"),
        ]
    ):
        events.append(
            UsageEvent(
                request_id=f"req-{index}",
                org_id=org.org_id,
                workspace_id=org.workspace_id,
                key_id=key_id,
                user_id=user_id,
                model="openai/gpt-4o-mini",
                provider="openai",
                prompt_tokens=100 + index,
                completion_tokens=10,
                cached_tokens=5,
                cost_nanousd=1_000_000 * (index + 1),
                is_byok=index == 4,
                created_at=T0 + timedelta(hours=index),
            )
        )
    async with session_scope(context.sessions) as session:
        await write_usage_batch(session, events)
        session.add(
            ModelPrice(
                model="openai/gpt-4o-mini",
                input_nanousd_per_mtok=150_000_000,
                output_nanousd_per_mtok=600_000_000,
            )
        )


async def test_usage_pages_for_an_org_admin_with_and_without_user_id(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member_id, _jwt = await member_session(client, context, org, "member@acme.test")
    await _seed_usage(context, org, member_id)
    key = (await create_portal_key(client, await login(client, org.email), name="org", org_id=org.org_id))[
        "api_key"
    ]
    headers = bearer(key)

    first = assert_portal_ok(await client.get(f"{PORTAL}/usage?page=1&pagesize=2", headers=headers))
    assert first["total"] == 5 and first["page"] == 1 and first["pagesize"] == 2
    assert [row["request_time"] for row in first["list"]] == [
        int((T0 + timedelta(hours=h)).timestamp()) for h in (4, 3)
    ]
    newest = first["list"][0]
    assert newest["user_id"] == org.user_id and newest["token_id"] == "key-o"
    assert (newest["input_token"], newest["output_token"], newest["cached_token"]) == (104, 10, 5)
    assert (newest["input_price"], newest["output_price"]) == (0.15, 0.6)
    assert (newest["total_amount"], newest["amount"]) == (0.005, 0.0)  # BYOK: nothing charged
    assert first["list"][1]["amount"] == 0.004
    assert first["records"][0] == {
        "timestamp": newest["request_time"],
        "tokens": 114,
        "model": "openai/gpt-4o-mini",
        "input_tokens": 104,
        "output_tokens": 10,
        "cost": 0.005,
    }
    assert first["total_tokens"] == 114 + 113
    last = assert_portal_ok(await client.get(f"{PORTAL}/usage?page=3&pagesize=2", headers=headers))
    assert len(last["list"]) == 1 and last["total"] == 5

    members = assert_portal_ok(await client.get(f"{PORTAL}/usage?user_id={member_id}", headers=headers))
    assert members["total"] == 2 and {row["user_id"] for row in members["list"]} == {member_id}

    start = int((T0 + timedelta(hours=1)).timestamp())
    end = int((T0 + timedelta(hours=3)).timestamp())
    window = assert_portal_ok(
        await client.get(f"{PORTAL}/usage?start_time={start}&end_time={end}", headers=headers)
    )
    assert window["total"] == 3  # end_time is inclusive to the second
    one_second = assert_portal_ok(
        await client.get(f"{PORTAL}/usage?start_time={start}&end_time={start}", headers=headers)
    )
    assert one_second["total"] == 1
    by_token = assert_portal_ok(await client.get(f"{PORTAL}/usage?token_id=key-m", headers=headers))
    assert by_token["total"] == 2


async def test_a_members_key_sees_only_its_own_usage(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member_id, member_jwt = await member_session(client, context, org, "member@acme.test")
    other_id, _other_jwt = await member_session(client, context, org, "other@acme.test")
    await _seed_usage(context, org, member_id)
    key = (await create_portal_key(client, member_jwt, name="mine"))["api_key"]

    own = assert_portal_ok(await client.get(f"{PORTAL}/usage", headers=bearer(key)))
    assert own["total"] == 2 and {row["user_id"] for row in own["list"]} == {member_id}
    for user_id in (org.user_id, other_id, member_id):
        denied = await client.get(f"{PORTAL}/usage?user_id={user_id}", headers=bearer(key))
        assert_portal_error(
            denied, 403, "Filtering by user_id needs an organization-level key of an organization admin"
        )


async def test_an_owners_personal_key_sees_only_the_owners_usage(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member_id, _jwt = await member_session(client, context, org, "member@acme.test")
    await _seed_usage(context, org, member_id)
    key = (await create_portal_key(client, await login(client, org.email), name="personal"))["api_key"]
    own = assert_portal_ok(await client.get(f"{PORTAL}/usage", headers=bearer(key)))
    assert own["total"] == 3
    assert_portal_error(await client.get(f"{PORTAL}/usage?user_id={member_id}", headers=bearer(key)), 403)


async def test_another_orgs_usage_is_never_visible(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    member_id, _jwt = await member_session(client, context, org, "member@acme.test")
    await _seed_usage(context, org, member_id)
    other = await make_org(context, name="Other", email="owner@other.test")
    key = (await create_portal_key(client, await login(client, other.email), name="o", org_id=other.org_id))[
        "api_key"
    ]
    for query in ("", f"?user_id={member_id}", "?token_id=key-o"):
        assert assert_portal_ok(await client.get(f"{PORTAL}/usage{query}", headers=bearer(key)))["total"] == 0


async def test_the_wrong_credential_is_refused_clearly(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    jwt = await login(client, org.email)
    inference = await make_key(context, org_id=org.org_id, user_id=org.user_id)
    for path in ("/balance", "/usage"):
        assert_portal_error(
            await client.get(PORTAL + path, headers=jwt),
            401,
            "This endpoint needs a management API key (sk_mg_...), not a user session token",
        )
        assert_portal_error(
            await client.get(PORTAL + path, headers=bearer(inference)),
            403,
            "This endpoint needs a management API key (sk_mg_...)",
        )
        assert_portal_error(
            await client.get(PORTAL + path, headers=bearer("sk_mg_nothex")), 401, "Invalid API key format"
        )
        assert_portal_error(
            await client.get(PORTAL + path, headers=bearer("sk_mg_" + "a" * 64)), 401, "API key not found"
        )
    message = "This endpoint needs a user session token from POST /api/v1/auth/login, not an API key"
    for method, path, body in (
        ("GET", "/api-keys", None),
        ("POST", "/api-keys", {"name": "x"}),
        ("PUT", "/api-keys/some-id", {"name": "x"}),
        ("DELETE", "/api-keys/some-id", None),
        ("POST", "/api-keys/revoke", {"id": "some-id"}),
        ("POST", "/api-keys/restore", {"id": "some-id"}),
    ):
        response = await client.request(method, PORTAL + path, json=body, headers=bearer(org.management_key))
        assert_portal_error(response, 401, message)
    listed = assert_portal_ok(await client.get(f"{PORTAL}/api-keys", headers=jwt))
    assert [k["name"] for k in listed] == ["bootstrap management key"]
