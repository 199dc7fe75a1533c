"""Rotation with a grace period: the same key under a new secret, the old one accepted on the gateway and
GET /api/v1/key until previous_key_expires_at and refused (401) from then on; audited as key.rotated."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from keyplane.auth.tokens import hash_key
from keyplane.db import session_scope
from keyplane.gateway.key_cache import KeyRecord
from keyplane.keys import rotation
from keyplane.models import ApiKey, AuditEvent
from keyplane.models.base import utcnow
from tests.concurrency import at_once, audit_events, statuses
from tests.factories import bearer
from tests.gateway.test_enforcement import CHAT, _key
from tests.harness import GatewaySetup
from tests.keys.keys_data import owner_of


async def _rotate(setup: GatewaySetup, key_hash: str, **body: Any) -> httpx.Response:
    return await setup.client.post(f"/api/v1/keys/{key_hash}/rotate", json=body, headers=setup.admin)


async def _chat(setup: GatewaySetup, plaintext: str) -> httpx.Response:
    return await setup.client.post("/v1/chat/completions", json=CHAT, headers=bearer(plaintext))


async def _current(setup: GatewaySetup, plaintext: str) -> httpx.Response:
    return await setup.client.get("/api/v1/key", headers=bearer(plaintext))


async def test_both_secrets_work_in_the_grace_period_as_one_key(gateway_setup: GatewaySetup) -> None:
    setup = gateway_setup
    old, old_hash = await _key(setup, limit=5, name="ci")
    assert (await _chat(setup, old)).status_code == 200
    rotated = await _rotate(setup, old_hash, grace_seconds=600)
    assert rotated.status_code == 200, rotated.text
    new, data = rotated.json()["key"], rotated.json()["data"]
    assert new != old and data["hash"] == hash_key(new) != old_hash
    assert (data["name"], data["limit"]) == ("ci", 5)
    expires = data["previous_key_expires_at"]
    assert expires is not None and expires[:19] > (utcnow() + timedelta(seconds=590)).isoformat()[:19]
    for plaintext in (old, new):
        assert (await _chat(setup, plaintext)).status_code == 200
        current = await _current(setup, plaintext)
        assert current.status_code == 200 and current.json()["data"]["hash"] == data["hash"]
    rows = await setup.wait_for_usage(3)
    assert len({row.key_id for row in rows}) == 1  # one key: one limit, one reservation subject
    fetched = (await setup.client.get(f"/api/v1/keys/{data['hash']}", headers=setup.admin)).json()["data"]
    assert fetched["usage"] == pytest.approx(sum(row.cost_nanousd for row in rows) / 1e9)
    assert (await setup.client.get(f"/api/v1/keys/{old_hash}", headers=setup.admin)).status_code == 404


async def test_the_old_secret_is_refused_right_after_the_grace_period(gateway_setup: GatewaySetup) -> None:
    setup = gateway_setup
    old, old_hash = await _key(setup)
    assert (await _chat(setup, old)).status_code == 200  # cached under the old secret
    async with session_scope(setup.context.sessions) as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.hash == old_hash))).scalar_one()
        # Rotated as if an hour and a second ago with an hour's grace: it ended a second ago.
        _, new = await rotation.rotate_key(
            session=session,
            principal=owner_of(setup.org),
            key=key,
            grace_seconds=3600,
            now=utcnow() - timedelta(seconds=3601),
        )
    for response in (await _chat(setup, old), await _current(setup, old)):
        assert response.status_code == 401, response.text
    assert (await _chat(setup, new)).status_code == 200
    assert (await _current(setup, new)).status_code == 200


async def test_a_grace_of_zero_refuses_the_old_secret_at_once(gateway_setup: GatewaySetup) -> None:
    setup = gateway_setup
    old, old_hash = await _key(setup)
    rotated = await _rotate(setup, old_hash, grace_seconds=0)
    assert rotated.status_code == 200
    assert (await _chat(setup, old)).status_code == 401
    assert (await _current(setup, old)).status_code == 401
    assert (await _chat(setup, rotated.json()["key"])).status_code == 200


def test_a_cached_old_secret_expires_on_the_instant_without_a_reload() -> None:
    at = utcnow()
    record = KeyRecord(
        id="k", hash="h", kind="inference", org_id="o", workspace_id="w", user_id=None,
        disabled=False, revoked=False, expires_at=None, limit_nanousd=None, limit_reset=None,
        include_byok_in_limit=False, allowed_models=None, rate_limit_rpm=None, rate_limit_tpm=None,
        previous_secret_expires_at=at, via_previous_secret=True,
    )  # fmt: skip
    assert record.refusal(at - timedelta(microseconds=1)) is None
    assert record.refusal(at) is not None


async def test_a_second_rotation_ends_the_first_old_secret_and_is_audited(
    gateway_setup: GatewaySetup,
) -> None:
    setup = gateway_setup
    first, first_hash = await _key(setup)
    second = (await _rotate(setup, first_hash)).json()
    third = await _rotate(setup, second["data"]["hash"], grace_seconds=60)
    assert third.status_code == 200
    assert (await _chat(setup, first)).status_code == 401
    assert (await _chat(setup, second["key"])).status_code == 200
    async with setup.context.sessions() as session:
        events = (
            (await session.execute(select(AuditEvent).where(AuditEvent.action == "key.rotated")))
            .scalars()
            .all()
        )
    assert [event.details["grace_seconds"] for event in events] == [3600, 60]
    assert all("key" not in event.details and "hash" not in event.details for event in events)


async def test_the_body_may_be_left_out_for_the_default_hour(gateway_setup: GatewaySetup) -> None:
    _, key_hash = await gateway_setup.make_key()
    response = await gateway_setup.client.post(f"/api/v1/keys/{key_hash}/rotate", headers=gateway_setup.admin)
    assert response.status_code == 200, response.text
    expires = response.json()["data"]["previous_key_expires_at"]
    assert expires[:19] > (utcnow() + timedelta(minutes=59)).isoformat()[:19]
    assert expires[:19] <= (utcnow() + timedelta(hours=1)).isoformat()[:19]


@pytest.mark.parametrize(
    "body", [{"grace_seconds": -1}, {"grace_seconds": 604_801}, {"grace_seconds": "60"}, {"grace": 60}]
)
async def test_a_bad_grace_is_a_400_and_rotates_nothing(
    gateway_setup: GatewaySetup, body: dict[str, Any]
) -> None:
    plaintext, key_hash = await gateway_setup.make_key()
    response = await _rotate(gateway_setup, key_hash, **body)
    assert response.status_code == 400, response.text
    assert (await _current(gateway_setup, plaintext)).json()["data"]["hash"] == key_hash


async def test_a_revoked_key_is_not_rotated(gateway_setup: GatewaySetup) -> None:
    _, key_hash = await gateway_setup.make_key()
    await gateway_setup.update_key(key_hash, disabled=True)
    async with session_scope(gateway_setup.context.sessions) as session:
        key = (await session.execute(select(ApiKey).where(ApiKey.hash == key_hash))).scalar_one()
        key.revoked = True
    response = await _rotate(gateway_setup, key_hash)
    assert response.status_code == 400 and response.json()["error"]["message"].startswith("A revoked key")


async def test_another_orgs_key_is_a_404(gateway_setup: GatewaySetup) -> None:
    tenant = await gateway_setup.tenant()
    _, their_hash = await tenant.make_key()
    assert (await _rotate(gateway_setup, their_hash)).status_code == 404


async def test_concurrent_rotations_of_one_key_have_one_winner(gateway_setup: GatewaySetup) -> None:
    setup = gateway_setup
    old, old_hash = await setup.make_key()
    responses = await at_once(8, lambda _: _rotate(setup, old_hash, grace_seconds=600))
    assert statuses(responses) == [200] + [404] * 7
    winner = next(r for r in responses if r.status_code == 200).json()
    assert await audit_events(setup.context, "key.rotated") == 1
    for secret in (old, winner["key"]):  # the one new secret that was handed out works, and the old one
        current = await _current(setup, secret)
        assert current.status_code == 200 and current.json()["data"]["hash"] == winner["data"]["hash"]
