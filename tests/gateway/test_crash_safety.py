"""A real `keyplane serve` killed under load (PostgreSQL and SQLite): every request it served is
charged once, by the next process on the same data directory, exactly when its usage was known
and at its reserved worst case when it was still in flight; a SIGTERM loses nothing either."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select

from keyplane.billing.ledger import add_credit
from keyplane.config import Settings
from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.gateway.crash_recovery import CRASH_ERROR, CRASH_NOTE, RECOVERED_NOTE
from keyplane.gateway.journal import journal_directory
from keyplane.gateway.service import BYTES_PER_TOKEN_ESTIMATE
from keyplane.kernel.principal import SYSTEM
from keyplane.models import LedgerEntry, SpendCounter, UsageRecord
from tests.factories import bearer
from tests.fakes.upstream import COMPLETION_TOKENS, PROMPT_TOKENS, FakeUpstream, RunningUpstream, _event
from tests.harness import FLUSH_WAIT_SECONDS
from tests.live_server import LiveServer, LiveServerFactory, run_init

pytestmark = pytest.mark.slow

INPUT_NANOS, OUTPUT_NANOS = 2000, 8000  # $2 / $8 per million tokens
ACTUAL_COST = PROMPT_TOKENS * INPUT_NANOS + COMPLETION_TOKENS * OUTPUT_NANOS
CREDIT_NANOS = 10 * 10**9
BATCH = 10  # the victim flushes a batch of this many records and otherwise never (interval 1 h)
HANG_MAX_TOKENS = 50


def _body(model: str, **extra: Any) -> bytes:
    return orjson.dumps(
        {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20, **extra}
    )


def _worst(body: bytes, max_tokens: int) -> int:
    """What admission reserves: the prompt estimated from the body's bytes, max_tokens out."""
    return (len(body) // BYTES_PER_TOKEN_ESTIMATE + 16) * INPUT_NANOS + max_tokens * OUTPUT_NANOS


class HangingUpstream(FakeUpstream):
    """`hang` answers only once released; `hang-stream` sends its first chunk, then waits too."""

    def __init__(self) -> None:
        super().__init__()
        self.released = threading.Event()

    async def _wait(self) -> None:
        await asyncio.to_thread(self.released.wait, 120)  # the bound only ends a forgotten hang

    async def _chat(self, payload: dict[str, Any], send: Any) -> None:
        model = payload.get("model")
        if model == "hang":
            await self._wait()
        if model == "hang-stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            base = {"id": "chatcmpl-hang", "object": "chat.completion.chunk", "created": 0, "model": model}
            delta = {"role": "assistant", "content": "Hello"}
            await _event(send, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
            await self._wait()
            await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
            return
        await super()._chat(payload, send)


@pytest.fixture
def hanging() -> Iterator[RunningUpstream]:
    app = HangingUpstream()
    running = RunningUpstream(app).start()
    yield running
    app.released.set()
    running.stop()


async def _victim(
    env: dict[str, str],
    factory: LiveServerFactory,
    upstream: RunningUpstream,
    http: httpx.AsyncClient,
    context: AppContext,
) -> tuple[LiveServer, str]:
    """A server that flushes only full batches, with a platform credential, prices, credit and a
    key with a spend limit (so a key counter is charged besides the balance)."""
    init = run_init(env)
    server = await asyncio.to_thread(factory, env, init=init)
    admin = bearer(server.management_key)
    models = ["gpt-test", "fail-500", "hang", "hang-stream"]
    response = await http.post(
        server.base_url + "/api/providers/vllm/keys",
        headers=admin,
        json={
            "name": "fake",
            "value": "sk-upstream",
            "models": models,
            "platform": True,
            "vllm_key_config": {"url": f"http://127.0.0.1:{upstream.port}"},
        },
    )
    assert response.status_code == 200, response.text
    for model in models:
        response = await http.put(
            server.base_url + f"/api/v1/model-prices/{model}",
            headers=admin,
            json={"input": 2.0, "output": 8.0},
        )
        assert response.status_code == 200, response.text
    async with session_scope(context.sessions) as session:
        await add_credit(session=session, principal=SYSTEM, org_id=init["org_id"], amount_nanos=CREDIT_NANOS)
    response = await http.post(
        server.base_url + "/api/v1/keys", headers=admin, json={"name": "load", "limit": 5.0}
    )
    assert response.status_code == 201, response.text
    return server, response.json()["key"]


def _env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "KEYPLANE_USAGE_FLUSH_INTERVAL_SECONDS": "3600",
        "KEYPLANE_USAGE_FLUSH_BATCH_SIZE": str(BATCH),
    }


async def _records(context: AppContext) -> list[UsageRecord]:
    async with context.sessions() as session:
        return list((await session.execute(select(UsageRecord).order_by(UsageRecord.id))).scalars())


async def _wait_for_records(context: AppContext, count: int) -> list[UsageRecord]:
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS
    while True:
        rows = await _records(context)
        if len(rows) >= count:
            return rows
        assert time.monotonic() < deadline, f"only {len(rows)} of {count} usage records were written"
        await asyncio.sleep(0.05)


async def _wait_for_upstream(upstream: RunningUpstream, model: str) -> None:
    deadline = time.monotonic() + FLUSH_WAIT_SECONDS
    while not any(isinstance(r.body, dict) and r.body.get("model") == model for r in upstream.requests):
        assert time.monotonic() < deadline, f"the upstream never received a {model} request"
        await asyncio.sleep(0.02)


async def _chat(http: httpx.AsyncClient, server: LiveServer, key: str, body: bytes) -> int:
    headers = {**bearer(key), "content-type": "application/json"}
    response = await http.post(server.base_url + "/v1/chat/completions", content=body, headers=headers)
    return response.status_code


def _journal_files(env: dict[str, str]) -> list[str]:
    settings = Settings(data_dir=env["KEYPLANE_DATA_DIR"], database_url=env["KEYPLANE_DATABASE_URL"])
    directory = journal_directory(settings)
    return sorted(path.name for path in directory.iterdir()) if directory.is_dir() else []


async def _ledger(context: AppContext, org_id: str) -> list[LedgerEntry]:
    async with context.sessions() as session:
        query = select(LedgerEntry).where(LedgerEntry.org_id == org_id).order_by(LedgerEntry.id)
        return list((await session.execute(query)).scalars())


async def test_a_killed_server_s_served_requests_are_charged_by_the_next_one_exactly_once(
    live_server_env: dict[str, str],
    live_server_factory: LiveServerFactory,
    hanging: RunningUpstream,
    context: AppContext,
    http: httpx.AsyncClient,
) -> None:
    env = _env(live_server_env)
    victim, key = await _victim(env, live_server_factory, hanging, http, context)
    org_id = victim.init["org_id"]
    hang_body = _body("hang", max_tokens=HANG_MAX_TOKENS)
    stream_body = _body("hang-stream", max_tokens=HANG_MAX_TOKENS, stream=True)

    # In flight across the first flush, so the journal keeps the flushed batch's lines: the
    # recovery must recognize them as written, not charge them again.
    hang = asyncio.create_task(_chat(http, victim, key, hang_body))
    await _wait_for_upstream(hanging, "hang")
    assert [await _chat(http, victim, key, _body("gpt-test")) for _ in range(BATCH)] == [200] * BATCH
    await _wait_for_records(context, BATCH)
    unflushed = [await _chat(http, victim, key, _body("gpt-test")) for _ in range(BATCH - 3)]
    unflushed.append(await _chat(http, victim, key, _body("fail-500")))
    assert unflushed == [200] * (BATCH - 3) + [502]

    first_chunk = asyncio.Event()

    async def stream() -> None:
        headers = {**bearer(key), "content-type": "application/json"}
        url = victim.base_url + "/v1/chat/completions"
        async with http.stream("POST", url, content=stream_body, headers=headers) as response:
            assert response.status_code == 200
            async for _ in response.aiter_bytes():
                first_chunk.set()

    streaming = asyncio.create_task(stream())
    await asyncio.wait_for(first_chunk.wait(), FLUSH_WAIT_SECONDS)
    assert len(await _records(context)) == BATCH  # the rest is only in the victim's memory

    victim.process.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(victim.process.wait, 30) == -signal.SIGKILL
    for task in (hang, streaming):
        with pytest.raises(httpx.TransportError):
            await task
    assert len(_journal_files(env)) == 2  # the dead process's lock and segment

    survivor = await asyncio.to_thread(live_server_factory, env, init=victim.init)
    rows = await _wait_for_records(context, 2 * BATCH)
    assert len(rows) == 2 * BATCH, "charged more than once"
    served = [r for r in rows if r.status_code == 200]
    failed = [r for r in rows if r.status_code == 502]
    crashed = sorted((r for r in rows if r.status_code == 0), key=lambda r: r.streamed)
    assert len(served) == 2 * BATCH - 3 and {r.cost_nanousd for r in served} == {ACTUAL_COST}
    assert len(failed) == 1 and failed[0].cost_nanousd == 0
    assert [(r.streamed, r.cost_nanousd, r.error) for r in crashed] == [
        (False, _worst(hang_body, HANG_MAX_TOKENS), CRASH_ERROR),
        (True, _worst(stream_body, HANG_MAX_TOKENS), CRASH_ERROR),
    ]
    assert len({r.request_id for r in rows}) == len(rows)
    charged = sum(r.cost_nanousd for r in rows)

    entries = await _ledger(context, org_id)
    assert sum(e.amount_nanousd for e in entries) == CREDIT_NANOS - charged
    by_note = {e.note: e.amount_nanousd for e in entries if e.kind == "usage" and e.note != "gateway usage"}
    assert by_note == {
        RECOVERED_NOTE: -(BATCH - 3) * ACTUAL_COST,
        CRASH_NOTE: -sum(r.cost_nanousd for r in crashed),
    }
    async with context.sessions() as session:
        spent = (
            await session.execute(
                select(func.sum(SpendCounter.spent_nanousd)).where(SpendCounter.subject.like("key:%"))
            )
        ).scalar_one()
    assert spent == charged

    assert survivor.stop() in (0, -signal.SIGTERM)
    assert _journal_files(env) == []


async def test_a_sigterm_loses_no_usage_and_leaves_no_journal(
    live_server_env: dict[str, str],
    live_server_factory: LiveServerFactory,
    hanging: RunningUpstream,
    context: AppContext,
    http: httpx.AsyncClient,
) -> None:
    env = _env(live_server_env)
    server, key = await _victim(env, live_server_factory, hanging, http, context)
    assert [await _chat(http, server, key, _body("gpt-test")) for _ in range(BATCH + 3)] == [200] * (
        BATCH + 3
    )
    hang = asyncio.create_task(_chat(http, server, key, _body("hang", max_tokens=HANG_MAX_TOKENS)))
    await _wait_for_upstream(hanging, "hang")

    server.process.send_signal(signal.SIGTERM)
    assert isinstance(hanging.app, HangingUpstream)
    hanging.app.released.set()  # the request in flight completes during the graceful shutdown
    assert await hang == 200
    assert await asyncio.to_thread(server.process.wait, 30) in (0, -signal.SIGTERM)

    rows = await _records(context)
    assert len(rows) == BATCH + 4
    assert {(r.status_code, r.cost_nanousd) for r in rows} == {(200, ACTUAL_COST)}
    assert _journal_files(env) == []
