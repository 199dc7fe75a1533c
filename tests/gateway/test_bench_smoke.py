"""bench/gateway.py runs end to end (tiny counts; the numbers themselves are not tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_gateway_benchmark_runs_and_reports_its_numbers() -> None:
    done = subprocess.run(
        [sys.executable, "bench/gateway.py", "--mode", "sqlite", "--smoke", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    (result,) = json.loads(done.stdout)
    assert result["mode"] == "sqlite" and result["non_200"] == 0
    for name in (
        "overhead_p50_ms",
        "overhead_p99_ms",
        "rps_c32",
        "c32_p99_ms",
        "share_of_direct_c32",
        "first_chunk_overhead_p50_ms",
        "streams_per_s_c16",
        "rss_after_load_mb",
        "peak_rss_mb",
        "workers_scaling",
    ):
        assert isinstance(result[name], float), name
    assert result["workers"] == 2 and result["streams_per_s_c16"] > 0
    adapters = {run["adapter"]: run for run in result["adapters"]}
    assert set(adapters) == {"openai-style", "anthropic", "bedrock", "cohere"}
    assert all(isinstance(run["overhead_p50_ms"], float) for run in adapters.values())


def test_the_bedrock_signing_benchmark_prints_microseconds_per_signature() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bedrock_signing.py", "--rounds", "20"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("sigv4 sign: ") and " us per request" in done.stdout
