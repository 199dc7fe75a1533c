"""Concurrent PUTs of one workspace's project config (Cortecs): all succeed on one row, each sees the
one before it, so the same change made ten times at once is one change and one audit event."""

from __future__ import annotations

import httpx

from keyplane.context import AppContext
from keyplane.models import ProjectConfig
from keyplane.orgs.bootstrap import BootstrapResult
from tests.concurrency import at_once, audit_events, count_rows, statuses
from tests.factories import bearer

TIMES = {"created_at": "2025-09-25T08:29:50.735Z", "updated_at": "2025-09-25T08:29:50.735Z"}


async def test_concurrent_puts_of_one_change_make_one_row_and_one_event(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    body = {"inference_config": {"max_tokens": 77}, **TIMES}
    responses = await at_once(
        10, lambda _: client.put("/v1/manage/project-configs", json=body, headers=bearer(org.management_key))
    )
    assert statuses(responses) == [200] * 10
    assert await count_rows(context, ProjectConfig) == 1
    assert await audit_events(context, "project_config.updated") == 1


async def test_concurrent_puts_of_different_values_each_land(
    client: httpx.AsyncClient, context: AppContext, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    responses = await at_once(
        10,
        lambda i: client.put(
            "/v1/manage/project-configs",
            json={"inference_config": {"max_tokens": 100 + i}, **TIMES},
            headers=headers,
        ),
    )
    assert statuses(responses) == [200] * 10
    assert await audit_events(context, "project_config.updated") == 10
    final = await client.get("/v1/manage/project-configs", headers=headers)
    assert final.json()["inference_config"]["max_tokens"] in range(100, 110)
