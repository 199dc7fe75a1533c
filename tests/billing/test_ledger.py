"""The ledger service: balance is the sum of entries, credits are validated and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from keyplane.billing.ledger import add_credit, balance_nanos, total_credits_and_usage
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.errors import BadRequest, Forbidden
from keyplane.kernel.money import usd_to_nanos
from keyplane.kernel.principal import SYSTEM, Principal
from keyplane.models import AuditEvent, LedgerEntry
from keyplane.models.base import utcnow
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import add_user, make_key
from tests.usage.usage_data import event_for, key_of, write_usage


def owner(org: BootstrapResult) -> Principal:
    return Principal(
        kind="user",
        user_id=org.user_id,
        org_id=org.org_id,
        role="owner",
        ip_address="10.0.0.7",
        is_operator=True,
    )


async def test_balance_is_the_sum_of_credits_and_usage_debits(
    context: AppContext, org: BootstrapResult
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    async with session_scope(context.sessions) as session:
        await add_credit(
            session=session, principal=owner(org), org_id=org.org_id, amount_nanos=usd_to_nanos(10)
        )
        await add_credit(session=session, principal=SYSTEM, org_id=org.org_id, amount_nanos=usd_to_nanos(2.5))
    now = utcnow()
    await write_usage(
        context,
        [
            event_for(key, at=now, cost_usd=1.25),
            event_for(key, at=now - timedelta(days=3), cost_usd=0.25),
            event_for(key, at=now, cost_usd=4.0, is_byok=True),  # BYOK draws on the org's own provider
        ],
    )
    async with context.sessions() as session:
        assert await balance_nanos(session=session, org_id=org.org_id) == usd_to_nanos(11)
        assert await total_credits_and_usage(session=session, org_id=org.org_id) == (
            usd_to_nanos(12.5),
            usd_to_nanos(1.5),
        )


async def test_a_user_balance_counts_only_that_users_entries(
    context: AppContext, org: BootstrapResult
) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    async with session_scope(context.sessions) as session:
        await add_credit(
            session=session, principal=owner(org), org_id=org.org_id, amount_nanos=5, user_id=member
        )
        await add_credit(session=session, principal=owner(org), org_id=org.org_id, amount_nanos=7)
    async with context.sessions() as session:
        assert await balance_nanos(session=session, org_id=org.org_id, user_id=member) == 5
        assert await balance_nanos(session=session, org_id=org.org_id) == 12


@pytest.mark.parametrize("amount", [0, -5, 10**19])
async def test_credit_amount_must_be_positive_and_bounded(
    context: AppContext, org: BootstrapResult, amount: int
) -> None:
    async with context.sessions() as session:
        with pytest.raises(BadRequest):
            await add_credit(session=session, principal=owner(org), org_id=org.org_id, amount_nanos=amount)
        assert (await session.execute(select(LedgerEntry))).first() is None


async def test_a_member_may_not_add_credit(context: AppContext, org: BootstrapResult) -> None:
    member = await add_user(context, org_id=org.org_id, email="m@acme.test")
    principal = Principal(kind="user", user_id=member, org_id=org.org_id, role="member")
    async with context.sessions() as session:
        with pytest.raises(Forbidden):
            await add_credit(session=session, principal=principal, org_id=org.org_id, amount_nanos=5)


async def test_credit_is_audited_with_actor_and_address(context: AppContext, org: BootstrapResult) -> None:
    async with session_scope(context.sessions) as session:
        entry = await add_credit(
            session=session,
            principal=owner(org),
            org_id=org.org_id,
            amount_nanos=usd_to_nanos(3),
            note="po 17",
        )
    async with context.sessions() as session:
        event = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "credits.added"))
        ).scalar_one()
    assert (event.object_type, event.object_id, event.org_id) == ("ledger_entry", str(entry.id), org.org_id)
    assert (event.actor_type, event.actor_id, event.ip_address) == ("user", org.user_id, "10.0.0.7")
    assert event.details["amount"] == 3.0 and event.details["note"] == "po 17"
