"""`keyplane init` run as a real process against a fresh SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.live_server import LiveServerFactory, run_cli, server_env


def _sqlite_env(tmp_path: Path) -> dict[str, str]:
    return server_env(f"sqlite:///{tmp_path / 'data' / 'keyplane.db'}", tmp_path / "data")


def test_init_json_prints_the_owner_credentials_and_a_management_key(tmp_path: Path) -> None:
    done = run_cli(["init", "--json", "--email", "ops@example.test"], _sqlite_env(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["email"] == "ops@example.test"
    assert result["management_key"].startswith("sk_mg_")
    assert len(result["password"]) >= 16 and result["password_generated"] is True
    assert {"org_id", "workspace_id", "user_id", "management_key_hash"} <= set(result)


def test_a_second_init_exits_1_and_says_why(tmp_path: Path) -> None:
    env = _sqlite_env(tmp_path)
    assert run_cli(["init", "--json"], env).returncode == 0
    again = run_cli(["init", "--json"], env)
    assert again.returncode == 1
    assert again.stdout == ""
    assert "already initialized" in again.stderr
    assert "Traceback" not in again.stderr


def test_init_skip_if_initialized_exits_0_without_changes(tmp_path: Path) -> None:
    env = _sqlite_env(tmp_path)
    first = json.loads(run_cli(["init", "--json"], env).stdout)
    skipped = run_cli(["init", "--skip-if-initialized"], env)
    assert skipped.returncode == 0
    assert first["management_key"] not in skipped.stdout


def test_the_printed_management_key_and_password_work_on_a_server(
    tmp_path: Path, live_server_factory: LiveServerFactory
) -> None:
    env = _sqlite_env(tmp_path)
    result = json.loads(run_cli(["init", "--json", "--password", "a-long-password-1"], env).stdout)
    server = live_server_factory(env, init=result)
    keys = httpx.get(
        server.api_url + "/keys", headers={"Authorization": f"Bearer {result['management_key']}"}
    )
    login = httpx.post(
        server.api_url + "/auth/login", json={"email": result["email"], "password": "a-long-password-1"}
    )
    assert (keys.status_code, login.status_code) == (200, 200)
    assert result["password_generated"] is False


def test_init_leaves_the_data_directory_and_database_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = server_env(f"sqlite:///{data_dir / 'keyplane.db'}", data_dir, KEYPLANE_SECRET_KEY="")
    done = run_cli(["init", "--json"], env)  # the secret key is generated into the data directory
    assert done.returncode == 0, done.stderr
    modes = {p.name: p.stat().st_mode & 0o777 for p in (data_dir, *data_dir.iterdir())}
    assert modes["data"] == 0o700
    assert modes["keyplane.db"] == modes["secret_key"] == 0o600
    assert all(mode == 0o600 for name, mode in modes.items() if name.startswith("keyplane.db-"))


def test_a_short_secret_key_stops_the_cli_naming_the_variable(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'data' / 'keyplane.db'}", tmp_path / "data", secret_key="short")
    for command in (["init", "--json"], ["serve", "--port", "1"]):
        done = run_cli(command, env)
        assert done.returncode == 1
        assert "KEYPLANE_SECRET_KEY must be at least 32 bytes" in done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "data" / "keyplane.db").exists()
