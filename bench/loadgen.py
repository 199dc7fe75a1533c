"""The load generator and process helpers shared by the gateway benchmarks."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent  # subprocesses run from the checkout


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


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    """VmHWM (the kernel's record of the peak resident set) or VmRSS (the resident set now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> float:
    """VmRSS of a process and its children (uvicorn's workers under a supervisor)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return rss_mb(pid, "VmRSS") + sum(tree_rss_mb(int(child)) for child in children)


# ---- load generator -------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection sending a pre-encoded request."""

    def __init__(self, port: int, request: bytes) -> None:
        self.port = port
        self.request = request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.first_chunk_at = 0.0  # perf_counter() when a chunked body's first chunk was read

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
            first = True
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if first:
                    self.first_chunk_at, first = time.perf_counter(), False
                if size == 0:
                    break
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def chat_request(port: int, path: str, key: str | None, body: bytes) -> bytes:
    headers = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if key:
        headers.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


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


async def first_chunks(port: int, request: bytes, count: int, warmup: int) -> list[float]:
    """Seconds from sending a streamed request to reading its first body chunk, at concurrency 1."""
    connection = Connection(port, request)
    for _ in range(warmup):
        await connection.send()
    found = []
    for _ in range(count):
        started = time.perf_counter()
        if await connection.send() != 200:
            raise RuntimeError("a stream failed during the first-chunk run")
        found.append(connection.first_chunk_at - started)
    connection.close()
    return found


@dataclass
class Throughput:
    """One concurrency run: requests per second, how many were not 200, and their latencies."""

    rps: float
    failed: int
    latencies: list[float]


async def throughput(port: int, request: bytes, concurrency: int, seconds: float) -> Throughput:
    """Requests per second over `seconds` with `concurrency` connections, with each latency."""
    deadline = 0.0
    failed = 0
    found: list[float] = []

    async def worker() -> None:
        nonlocal failed
        connection = Connection(port, request)
        await connection.send()  # connect + warm
        while (started := time.perf_counter()) < deadline:
            if await connection.send() != 200:
                failed += 1
            found.append(time.perf_counter() - started)
        connection.close()

    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Throughput(len(found) / (time.perf_counter() - started), failed, found)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float], q: float) -> float:
    return percentile(values, q) * 1000
