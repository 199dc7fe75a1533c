"""Gateway benchmark: keyplane's overhead over calling the upstream directly, throughput, memory.

    python bench/gateway.py                       # SQLite and PostgreSQL (when reachable)
    python bench/gateway.py --mode sqlite --smoke # a few requests, to check it runs

What runs, each in its own process: the fake OpenAI-compatible upstream (tests/fakes/upstream.py),
`keyplane serve` (one worker, uvloop + httptools) with a platform credential pointing at it, and
this script as the load generator: a minimal keep-alive HTTP/1.1 client on asyncio (cheaper per
request than any full client library, so it measures the server, not itself).

Printed per mode: latency p50/p99 direct vs. through keyplane at concurrency 1 and their
difference (the overhead), keyplane's CPU time per request in that run (user + system, steadier
than wall-clock numbers on a busy machine), requests per second and p50/p99 at concurrency 32 and
the share of the bare upstream's requests/s, streams (time to the first chunk, direct and through
keyplane, at concurrency 1; streams per second at concurrency 16, each metered with the usage
chunk), keyplane's RSS after the load (VmRSS) and its peak (VmHWM), and with `--workers 2` the
requests/s of two worker processes against one; then per translating adapter (Anthropic, Bedrock,
Cohere: bench/adapter_runs.py, each provider's fake in its own process) the overhead at
concurrency 1 beside the OpenAI-style path's, measured right before them. Targets (issue 17):
overhead p50 <= 0.20 ms, >= 40 % of the bare upstream at concurrency 32, p99 <= 3x p50 there,
first-chunk overhead <= 0.35 ms, RSS <= 120 MB, two workers >= 1.6x one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import adapter_runs
import httpx
from loadgen import (
    chat_request,
    cpu_seconds,
    first_chunks,
    free_port,
    latencies,
    ms,
    process,
    rss_mb,
    throughput,
    tree_rss_mb,
    wait_http,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the provider fakes live in tests/fakes
POSTGRES_ADMIN_URL = os.environ.get(
    "KEYPLANE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHAT_BODY = json.dumps(
    {"model": "bench-model", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 20}
).encode()
STREAM_BODY = json.dumps(
    {
        "model": "bench-model",
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 20,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
).encode()


# ---- setup -----------------------------------------------------------------------------------


def create_postgres_database() -> str | None:
    import asyncpg  # only for the PostgreSQL mode

    name = f"keyplane_bench_{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()

    try:
        asyncio.run(create())
    except OSError:
        return None
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    import asyncpg

    async def drop() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        finally:
            await connection.close()

    asyncio.run(drop())


def configure(base_url: str, management_key: str, upstream_port: int) -> str:
    """Platform credential -> fake upstream, a price, credit; returns a fresh inference key."""
    admin = {"Authorization": f"Bearer {management_key}"}
    with httpx.Client(base_url=base_url, headers=admin, timeout=30) as http:
        response = http.post(
            "/api/providers/vllm/keys",
            json={
                "name": "bench upstream",
                "value": "sk-bench",
                "models": ["bench-model"],
                "platform": True,
                "vllm_key_config": {"url": f"http://127.0.0.1:{upstream_port}"},
            },
        )
        response.raise_for_status()
        http.put("/api/v1/model-prices/bench-model", json={"input": 0.15, "output": 0.6}).raise_for_status()
        http.post("/api/v1/billing/credits", json={"amount": 1_000_000}).raise_for_status()
        response = http.post("/api/v1/keys", json={"name": "bench"})
        response.raise_for_status()
        key: str = response.json()["key"]
        return key


def measure(args: argparse.Namespace, pid: int, port: int, upstream_port: int, key: str) -> dict[str, Any]:
    """Every number of one keyplane process, each keyplane run next to a bare-upstream run."""
    through = chat_request(port, "/v1/chat/completions", key, CHAT_BODY)
    direct = chat_request(upstream_port, "/v1/chat/completions", None, CHAT_BODY)
    streamed = chat_request(port, "/v1/chat/completions", key, STREAM_BODY)
    direct_streamed = chat_request(upstream_port, "/v1/chat/completions", None, STREAM_BODY)

    direct_lat = asyncio.run(latencies(upstream_port, direct, args.requests, args.warmup))
    cpu_before = cpu_seconds(pid)
    gateway_lat = asyncio.run(latencies(port, through, args.requests, args.warmup))
    time.sleep(1.0)  # the usage flusher writes what the run queued
    cpu_per_request = (cpu_seconds(pid) - cpu_before) / (args.requests + args.warmup)
    direct_run = asyncio.run(throughput(upstream_port, direct, args.concurrency, args.duration))
    gateway_run = asyncio.run(throughput(port, through, args.concurrency, args.duration))
    direct_again = asyncio.run(throughput(upstream_port, direct, args.concurrency, args.duration))
    direct_rps = (direct_run.rps + direct_again.rps) / 2

    direct_first = asyncio.run(first_chunks(upstream_port, direct_streamed, args.requests, args.warmup))
    gateway_first = asyncio.run(first_chunks(port, streamed, args.requests, args.warmup))
    streams = asyncio.run(throughput(port, streamed, args.stream_concurrency, args.duration))
    direct_streams = asyncio.run(
        throughput(upstream_port, direct_streamed, args.stream_concurrency, args.duration)
    )
    time.sleep(1.0)  # let the usage flusher finish
    return {
        "direct_p50_ms": ms(direct_lat, 0.5),
        "direct_p99_ms": ms(direct_lat, 0.99),
        "gateway_p50_ms": ms(gateway_lat, 0.5),
        "gateway_p99_ms": ms(gateway_lat, 0.99),
        "overhead_p50_ms": ms(gateway_lat, 0.5) - ms(direct_lat, 0.5),
        "overhead_p99_ms": ms(gateway_lat, 0.99) - ms(direct_lat, 0.99),
        "overhead_mean_ms": (statistics.fmean(gateway_lat) - statistics.fmean(direct_lat)) * 1000,
        "cpu_ms_per_request": cpu_per_request * 1000,
        "rps_c32": gateway_run.rps,
        "direct_rps_c32": direct_rps,
        "share_of_direct_c32": gateway_run.rps / direct_rps,
        "c32_p50_ms": ms(gateway_run.latencies, 0.5),
        "c32_p99_ms": ms(gateway_run.latencies, 0.99),
        "non_200": gateway_run.failed + streams.failed,
        "direct_first_chunk_p50_ms": ms(direct_first, 0.5),
        "gateway_first_chunk_p50_ms": ms(gateway_first, 0.5),
        "first_chunk_overhead_p50_ms": ms(gateway_first, 0.5) - ms(direct_first, 0.5),
        "streams_per_s_c16": streams.rps,
        "direct_streams_per_s_c16": direct_streams.rps,
        "rss_after_load_mb": rss_mb(pid, "VmRSS"),
        "peak_rss_mb": rss_mb(pid),
    }


def run_mode(
    mode: str, args: argparse.Namespace, upstream_port: int, fakes: dict[str, int], work: Path
) -> dict[str, Any]:
    database_url = None
    if mode == "postgresql":
        database_url = create_postgres_database()
        if database_url is None:
            return {"mode": mode, "skipped": "PostgreSQL is not reachable"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYPLANE_")}
    env.update({"KEYPLANE_DATA_DIR": str(work / mode), "KEYPLANE_LOG_LEVEL": "warning"})
    if database_url:
        env["KEYPLANE_DATABASE_URL"] = database_url
    try:
        init = subprocess.run(
            [sys.executable, "-m", "keyplane.cli.main", "init", "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        management_key = json.loads(init.stdout)["management_key"]
        port = free_port()
        serve = [sys.executable, "-m", "keyplane.cli.main", "serve", "--port", str(port)]
        with process(serve, env, work / f"keyplane-{mode}.log") as keyplane:
            base_url = f"http://127.0.0.1:{port}"
            wait_http(base_url + "/healthz")
            key = configure(base_url, management_key, upstream_port)
            result = {"mode": mode, **measure(args, keyplane.pid, port, upstream_port, key)}
            if fakes:
                adapter_runs.configure(base_url, management_key, fakes)
                fakes_and_openai = {**fakes, adapter_runs.OPENAI.name: upstream_port}
                result["adapters"] = adapter_runs.measure(args, keyplane.pid, port, key, fakes_and_openai)
        if args.workers > 1:
            port = free_port()
            serve = [*serve[:-1], str(port), "--workers", str(args.workers), "--no-migrate"]
            with process(serve, env, work / f"keyplane-{mode}-workers.log") as supervisor:
                wait_http(f"http://127.0.0.1:{port}/healthz")
                through = chat_request(port, "/v1/chat/completions", key, CHAT_BODY)
                run = asyncio.run(throughput(port, through, args.concurrency, args.duration))
                result["workers"] = args.workers
                result["workers_rps_c32"] = run.rps
                result["workers_scaling"] = run.rps / result["rps_c32"]
                result["workers_rss_mb"] = tree_rss_mb(supervisor.pid)
        return result
    finally:
        if database_url:
            drop_postgres_database(database_url)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mode", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--requests", type=int, default=3000, help="latency samples at concurrency 1")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stream-concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="also measure this many workers (1: skip)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the throughput run")
    parser.add_argument(
        "--no-adapters", action="store_true", help="skip the Anthropic, Bedrock and Cohere adapter runs"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny counts: checks that the bench runs")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.smoke:
        args.requests, args.warmup, args.duration = 20, 5, 0.5
    modes = ["sqlite", "postgresql"] if args.mode == "both" else [args.mode]
    results = []
    with tempfile.TemporaryDirectory(prefix="keyplane-bench-") as tmp:
        work = Path(tmp)
        upstream_port = free_port()
        upstream_cmd = [
            sys.executable,
            "-m",
            "tests.fakes.upstream",
            "--port",
            str(upstream_port),
            "--no-record",
        ]
        with (
            process(upstream_cmd, dict(os.environ), work / "upstream.log"),
            adapter_runs.running_fakes(work, ROOT, enabled=not args.no_adapters) as fakes,
        ):
            wait_http(f"http://127.0.0.1:{upstream_port}/v1/models")
            for mode in modes:
                results.append(run_mode(mode, args, upstream_port, fakes, work))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        if "skipped" in result:
            print(f"[{result['mode']}] skipped: {result['skipped']}")
            continue
        report(result, args)
        report_adapters(result)


def report(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"[{r['mode']}]")
    print(f"  concurrency 1  direct   p50 {r['direct_p50_ms']:.3f} ms  p99 {r['direct_p99_ms']:.3f} ms")
    print(f"                 keyplane p50 {r['gateway_p50_ms']:.3f} ms  p99 {r['gateway_p99_ms']:.3f} ms")
    print(
        f"  overhead       p50 {r['overhead_p50_ms']:.3f} ms  p99 {r['overhead_p99_ms']:.3f} ms"
        f"  (mean {r['overhead_mean_ms']:.3f} ms)   target p50 <= 0.20 ms"
    )
    print(f"  keyplane CPU   {r['cpu_ms_per_request']:.3f} ms per request (concurrency 1, flush included)")
    print(
        f"  concurrency {args.concurrency} keyplane {r['rps_c32']:.0f} req/s,"
        f" direct {r['direct_rps_c32']:.0f} req/s: {r['share_of_direct_c32']:.0%} of direct"
        f" (target >= 40 %), non-200: {r['non_200']}"
    )
    print(
        f"                 keyplane p50 {r['c32_p50_ms']:.3f} ms  p99 {r['c32_p99_ms']:.3f} ms"
        f" ({r['c32_p99_ms'] / r['c32_p50_ms']:.1f}x p50, target <= 3x)"
    )
    print(
        f"  streams        first chunk p50 direct {r['direct_first_chunk_p50_ms']:.3f} ms, keyplane"
        f" {r['gateway_first_chunk_p50_ms']:.3f} ms: +{r['first_chunk_overhead_p50_ms']:.3f} ms"
        " (target <= 0.35 ms)"
    )
    print(
        f"                 concurrency {args.stream_concurrency}: keyplane {r['streams_per_s_c16']:.0f}"
        f" streams/s, direct {r['direct_streams_per_s_c16']:.0f} streams/s"
    )
    print(
        f"  RSS            {r['rss_after_load_mb']:.1f} MB after the load, peak {r['peak_rss_mb']:.1f} MB"
        "   target <= 120 MB"
    )
    if "workers" in r:
        print(
            f"  {r['workers']} workers      {r['workers_rps_c32']:.0f} req/s"
            f" at concurrency {args.concurrency}:"
            f" {r['workers_scaling']:.2f}x one worker (target >= 1.6x), RSS {r['workers_rss_mb']:.1f} MB"
        )


def report_adapters(r: dict[str, Any]) -> None:
    for run in r.get("adapters", []):
        print(
            f"  {run['adapter']:<14} p50 direct {run['direct_p50_ms']:.3f} ms, keyplane"
            f" {run['gateway_p50_ms']:.3f} ms: overhead {run['overhead_p50_ms']:.3f} ms,"
            f" {run['minus_openai_ms']:+.3f} ms against OpenAI-style (target within 0.1 ms),"
            f" keyplane CPU {run['cpu_ms_per_request']:.3f} ms/request"
        )


if __name__ == "__main__":
    main()
