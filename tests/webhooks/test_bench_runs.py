"""bench/webhook_alerts.py still runs end to end (tiny size, SQLite), so the benchmark does not rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "webhook_alerts.py"


def test_webhook_alerts_benchmark_runs() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--keys", "20", "--runs", "2"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "20 keys, no crossing: p50" in done.stdout
    assert "20 keys, every key crosses 80 %: p50" in done.stdout
