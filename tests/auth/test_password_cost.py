"""keyplane hashes passwords with argon2's recommended parameters (the suite lowers them in its own
process only, in tests/conftest.py)."""

from __future__ import annotations

import subprocess
import sys

from argon2 import extract_parameters, profiles


def test_production_hashes_use_argon2ids_recommended_parameters() -> None:
    probe = "from keyplane.auth.passwords import hash_password; print(hash_password('secret'))"
    command = [sys.executable, "-c", probe]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    found = extract_parameters(done.stdout.strip())
    wanted = profiles.RFC_9106_LOW_MEMORY
    assert found.type == wanted.type
    assert (found.memory_cost, found.time_cost, found.parallelism) == (
        wanted.memory_cost,
        wanted.time_cost,
        wanted.parallelism,
    )
