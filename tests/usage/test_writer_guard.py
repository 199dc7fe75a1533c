"""One record that does not fit its columns cannot fail the batch it is written with."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from keyplane.context import AppContext
from keyplane.models import UsageRecord, UsageRollup
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage.writer import INT32_MAX, MAX_RECORD_COST_NANOS
from tests.factories import make_key
from tests.usage.usage_data import event_for, key_of, write_usage

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)


async def test_an_out_of_range_record_is_stored_clamped_beside_the_rest_of_its_batch(
    context: AppContext, org: BootstrapResult
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    bad = event_for(key, at=AT, model="bad\x00model", prompt_tokens=2**63, completion_tokens=-1)
    bad.cost_nanousd = 2**70
    bad.latency_ms = 2**40
    bad.error = "e" * 2000
    good = event_for(key, at=AT, model="good", prompt_tokens=10, completion_tokens=5)
    await write_usage(context, [bad, good])
    async with context.sessions() as session:
        rows = {r.model: r for r in (await session.execute(select(UsageRecord))).scalars()}
        rollups = {r.model: r for r in (await session.execute(select(UsageRollup))).scalars()}
    assert set(rows) == {"badmodel", "good"}
    stored = rows["badmodel"]
    assert (stored.prompt_tokens, stored.completion_tokens) == (INT32_MAX, 0)
    assert (stored.cost_nanousd, stored.latency_ms, len(stored.error or "")) == (
        MAX_RECORD_COST_NANOS,
        INT32_MAX,
        500,
    )
    assert rollups["badmodel"].prompt_tokens == INT32_MAX
    assert (rows["good"].prompt_tokens, rollups["good"].completion_tokens) == (10, 5)
