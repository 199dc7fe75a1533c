"""bench/usage_query.py still runs end to end (tiny size), so the benchmark does not rot."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests import backends

BENCH = Path(__file__).resolve().parents[2] / "bench" / "usage_query.py"


def test_usage_benchmark_runs_on_postgresql() -> None:
    if not backends.port_open("127.0.0.1", 5432) and "127.0.0.1:5432" in backends.POSTGRES_ADMIN_URL:
        backends.unavailable("PostgreSQL")
    database = f"keyplane_bench_usage_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "10000", "--runs", "1", "--database", database],
        env={**os.environ, "KEYPLANE_BENCH_POSTGRES_URL": backends.POSTGRES_ADMIN_URL},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "usage_records: 10,000 rows" in done.stdout
    for label in ("page: one key", "count: org", "group by day: org", "group by model: org"):
        assert label in done.stdout
