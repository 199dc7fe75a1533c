"""The serving process loads only what serving needs (issue 17's memory target): the CLI, Alembic,
httpx, botocore and redis-py load where they are used, not with the app."""

from __future__ import annotations

import json
import subprocess
import sys

LAZY = ("alembic", "botocore", "click", "httpx", "redis", "rich", "typer")


def test_the_app_imports_without_the_cli_alembic_httpx_botocore_or_redis(tmp_path: object) -> None:
    found = f"[m for m in {LAZY!r} if m in sys.modules]"
    probe = f"import json, sys; import keyplane.asgi; print(json.dumps({found}))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"KEYPLANE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
