"""bench/dashboard.py still runs end to end (tiny size), so the benchmark does not rot."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests import backends

BENCH = Path(__file__).resolve().parents[3] / "bench" / "dashboard.py"


def test_dashboard_benchmark_times_every_page_on_postgresql() -> None:
    if not backends.port_open("127.0.0.1", 5432) and "127.0.0.1:5432" in backends.POSTGRES_ADMIN_URL:
        backends.unavailable("PostgreSQL")
    database = f"keyplane_bench_dashboard_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--rows", "5000", "--runs", "1", "--database", database, "--drop"],
        env={**os.environ, "KEYPLANE_BENCH_POSTGRES_URL": backends.POSTGRES_ADMIN_URL},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "dashboard pages on 5,000 usage rows" in done.stdout
    for label in ("Overview", "Keys", "Usage: by key, 30 days", "Providers", "Organizations", "Prices"):
        assert f"  {label} " in done.stdout, label
