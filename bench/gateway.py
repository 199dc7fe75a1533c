"""Gateway benchmark: keyplane's overhead over calling the upstream directly, throughput, memory.

    python bench/gateway.py                       # SQLite and PostgreSQL (when reachable)
    python bench/gateway.py --mode sqlite --smoke # a few requests, to check it runs

What runs, each in its own process: the fake OpenAI-compatible upstream (tests/fakes/upstream.py),
`keyplane serve` (one worker, uvloop + httptools) with a platform credential pointing at it, and
this script as the load generator: a minimal keep-alive HTTP/1.1 client on asyncio (cheaper per
request than any full client library, so it measures the server, not itself).

Printed per mode: latency p50/p99 direct vs. through keyplane at concurrency 1 and their
difference (the overhead), keyplane's CPU time per request in that run (user + system, steadier
than wall-clock numbers on a busy machine), requests per second at concurrency 32, and keyplane's
peak RSS (VmHWM). Targets: overhead p50 <= 0.5 ms, >= 3000 req/s, RSS <= 150 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get(
    "KEYPLANE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CHAT_BODY = json.dumps(
    {"model": "bench-model", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 20}
).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the kernel's record of the process's peak resident set."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---- load generator -------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending a pre-encoded request."""

    def __init__(self, port: int, request: bytes) -> None:
        self.port = port
        self.request = request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        index = lower.find(b"content-length:")
        if index >= 0:
            length = int(lower[index + 15 : lower.index(b"\r\n", index)])
            await self.reader.readexactly(length)
        else:  # chunked
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        return status


def chat_request(port: int, path: str, key: str | None) -> bytes:
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(CHAT_BODY)}",
    ]
    if key:
        headers.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + CHAT_BODY


async def latencies(port: int, request: bytes, count: int, warmup: int) -> list[float]:
    connection = Connection(port, request)
    for _ in range(warmup):
        await connection.send()
    found = []
    for _ in range(count):
        started = time.perf_counter()
        status = await connection.send()
        found.append(time.perf_counter() - started)
        if status != 200:
            raise RuntimeError(f"HTTP {status} during the latency run")
    return found


async def throughput(port: int, request: bytes, concurrency: int, seconds: float) -> tuple[float, int]:
    """Requests per second over `seconds` with `concurrency` connections; and non-200 count."""
    deadline = 0.0
    done = 0
    failed = 0

    async def worker() -> None:
        nonlocal done, failed
        connection = Connection(port, request)
        await connection.send()  # connect + warm
        while time.perf_counter() < deadline:
            if await connection.send() != 200:
                failed += 1
            done += 1

    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started), failed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


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


def run_mode(mode: str, args: argparse.Namespace, upstream_port: int, work: Path) -> dict[str, Any]:
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
            through = chat_request(port, "/v1/chat/completions", key)
            direct = chat_request(upstream_port, "/v1/chat/completions", None)

            direct_lat = asyncio.run(latencies(upstream_port, direct, args.requests, args.warmup))
            cpu_before = cpu_seconds(keyplane.pid)
            gateway_lat = asyncio.run(latencies(port, through, args.requests, args.warmup))
            time.sleep(1.0)  # the usage flusher writes what the run queued
            cpu_per_request = (cpu_seconds(keyplane.pid) - cpu_before) / (args.requests + args.warmup)
            rps, failed = asyncio.run(throughput(port, through, args.concurrency, args.duration))
            direct_rps, _ = asyncio.run(throughput(upstream_port, direct, args.concurrency, args.duration))
            time.sleep(1.0)  # let the usage flusher finish
            rss = peak_rss_mb(keyplane.pid)
        return {
            "mode": mode,
            "direct_p50_ms": percentile(direct_lat, 0.5) * 1000,
            "direct_p99_ms": percentile(direct_lat, 0.99) * 1000,
            "gateway_p50_ms": percentile(gateway_lat, 0.5) * 1000,
            "gateway_p99_ms": percentile(gateway_lat, 0.99) * 1000,
            "overhead_p50_ms": (percentile(gateway_lat, 0.5) - percentile(direct_lat, 0.5)) * 1000,
            "overhead_p99_ms": (percentile(gateway_lat, 0.99) - percentile(direct_lat, 0.99)) * 1000,
            "overhead_mean_ms": (statistics.fmean(gateway_lat) - statistics.fmean(direct_lat)) * 1000,
            "cpu_ms_per_request": cpu_per_request * 1000,
            "rps_c32": rps,
            "direct_rps_c32": direct_rps,
            "non_200": failed,
            "peak_rss_mb": rss,
        }
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
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the throughput run")
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
        with process(upstream_cmd, dict(os.environ), work / "upstream.log"):
            wait_http(f"http://127.0.0.1:{upstream_port}/v1/models")
            for mode in modes:
                results.append(run_mode(mode, args, upstream_port, work))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for result in results:
        if "skipped" in result:
            print(f"[{result['mode']}] skipped: {result['skipped']}")
            continue
        r = result
        print(f"[{r['mode']}]")
        print(f"  concurrency 1  direct   p50 {r['direct_p50_ms']:.3f} ms  p99 {r['direct_p99_ms']:.3f} ms")
        print(f"                 keyplane p50 {r['gateway_p50_ms']:.3f} ms  p99 {r['gateway_p99_ms']:.3f} ms")
        print(
            f"  overhead       p50 {r['overhead_p50_ms']:.3f} ms  p99 {r['overhead_p99_ms']:.3f} ms"
            f"  (mean {r['overhead_mean_ms']:.3f} ms)   target p50 <= 0.5 ms"
        )
        print(
            f"  concurrency {args.concurrency} keyplane {r['rps_c32']:.0f} req/s"
            f" (direct {r['direct_rps_c32']:.0f} req/s, non-200: {r['non_200']})   target >= 3000"
        )
        print(
            f"  keyplane CPU   {r['cpu_ms_per_request']:.3f} ms per request (concurrency 1, flush included)"
        )
        print(f"  peak RSS       {r['peak_rss_mb']:.1f} MB   target <= 150 MB")


if __name__ == "__main__":
    main()
