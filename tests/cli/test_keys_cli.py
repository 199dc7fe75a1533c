"""`keyplane keys ...` as real processes against a real server, on both backends.

One server per backend serves the module, so each test checks only the keys it created.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from tests.live_server import LiveServer, free_port, run_cli


@pytest.fixture
def live_server(shared_live_server: LiveServer) -> LiveServer:
    return shared_live_server


def mine(hashes: list[str], listed: list[dict[str, Any]]) -> list[str]:
    return [item["hash"] for item in listed if item["hash"] in hashes]


def keys_cli(server: LiveServer, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `keyplane keys <args>` with the server's URL and key in the environment, as a user would."""
    env = {
        **server.env,
        "KEYPLANE_URL": server.base_url,
        "KEYPLANE_MANAGEMENT_KEY": key if key is not None else server.management_key,
        "COLUMNS": "200",
    }
    return run_cli(["keys", *args], env)


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_create_prints_the_plaintext_once_in_json(live_server: LiveServer) -> None:
    created = as_json(
        keys_cli(live_server, "create", "ci", "--limit", "12.5", "--limit-reset", "weekly", "--json")
    )
    assert created["key"].startswith("sk-kp-v1-")
    assert (created["data"]["name"], created["data"]["limit"], created["data"]["limit_reset"]) == (
        "ci",
        12.5,
        "weekly",
    )
    fetched = as_json(keys_cli(live_server, "get", created["data"]["hash"], "--json"))
    assert created["key"] not in json.dumps(fetched)


def test_create_for_people_shows_the_key_and_a_warning(live_server: LiveServer) -> None:
    done = keys_cli(live_server, "create", "human")
    assert done.returncode == 0, done.stderr
    assert "sk-kp-v1-" in done.stdout and "not shown again" in done.stdout


def test_list_shows_keys_newest_first(live_server: LiveServer) -> None:
    first = as_json(keys_cli(live_server, "create", "first", "--json"))["data"]["hash"]
    second = as_json(keys_cli(live_server, "create", "second", "--json"))["data"]["hash"]
    listed = as_json(keys_cli(live_server, "list", "--json"))
    assert mine([first, second], listed) == [second, first]
    table = keys_cli(live_server, "list")
    assert table.returncode == 0 and first in table.stdout and "key(s)" in table.stdout


def test_update_disables_and_list_include_disabled_shows_it(live_server: LiveServer) -> None:
    key_hash = as_json(keys_cli(live_server, "create", "svc", "--json"))["data"]["hash"]
    updated = as_json(
        keys_cli(live_server, "update", key_hash, "--disable", "--name", "svc-off", "--limit", "3", "--json")
    )
    assert (updated["disabled"], updated["name"], updated["limit"]) == (True, "svc-off", 3.0)
    assert mine([key_hash], as_json(keys_cli(live_server, "list", "--json"))) == []
    everything = as_json(keys_cli(live_server, "list", "--include-disabled", "--json"))
    assert mine([key_hash], everything) == [key_hash]


def test_update_no_limit_clears_the_limit(live_server: LiveServer) -> None:
    key_hash = as_json(keys_cli(live_server, "create", "capped", "--limit", "1", "--json"))["data"]["hash"]
    updated = as_json(
        keys_cli(live_server, "update", key_hash, "--no-limit", "--limit-reset", "none", "--json")
    )
    assert (updated["limit"], updated["limit_reset"]) == (None, None)


def test_create_and_update_set_the_gateway_limits(live_server: LiveServer) -> None:
    created = as_json(
        keys_cli(
            live_server,
            *("create", "limited", "--allowed-model", "gpt-a", "--allowed-model", "gpt-b"),
            *("--rpm", "30", "--tpm", "5000", "--json"),
        )
    )["data"]
    assert (created["allowed_models"], created["rate_limit_rpm"], created["rate_limit_tpm"]) == (
        ["gpt-a", "gpt-b"],
        30,
        5000,
    )
    updated = as_json(keys_cli(live_server, "update", created["hash"], "--any-model", "--no-rpm", "--json"))
    assert (updated["allowed_models"], updated["rate_limit_rpm"], updated["rate_limit_tpm"]) == (
        None,
        None,
        5000,
    )
    refused = keys_cli(live_server, "update", created["hash"], "--rpm", "5", "--no-rpm")
    assert refused.returncode != 0 and "exclude each other" in refused.stderr


def test_update_without_options_is_refused(live_server: LiveServer) -> None:
    done = keys_cli(live_server, "update", "0" * 64)
    assert done.returncode == 1 and "nothing to change" in done.stderr


def test_delete_removes_the_key(live_server: LiveServer) -> None:
    key_hash = as_json(keys_cli(live_server, "create", "doomed", "--json"))["data"]["hash"]
    assert as_json(keys_cli(live_server, "delete", key_hash, "--yes", "--json")) == {
        "deleted": True,
        "hash": key_hash,
    }
    gone = keys_cli(live_server, "get", key_hash)
    assert gone.returncode == 1
    assert "API key not found (HTTP 404)" in gone.stderr


def test_current_shows_the_calling_key(live_server: LiveServer) -> None:
    current = as_json(keys_cli(live_server, "current", "--json"))
    assert current["is_management_key"] is True


@pytest.mark.parametrize("key", ["sk_mg_" + "0" * 64, "garbage"])
def test_a_bad_key_exits_1_with_the_servers_reason(live_server: LiveServer, key: str) -> None:
    done = keys_cli(live_server, "list", key=key)
    assert done.returncode == 1
    assert "HTTP 401" in done.stderr and "Traceback" not in done.stderr


def test_a_missing_key_exits_1_before_calling(live_server: LiveServer) -> None:
    done = keys_cli(live_server, "list", key="")
    assert done.returncode == 1 and "KEYPLANE_MANAGEMENT_KEY" in done.stderr


def test_an_unreachable_server_exits_1_without_a_traceback(live_server: LiveServer) -> None:
    done = keys_cli(live_server, "list", "--url", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert "cannot reach keyplane" in done.stderr and "Traceback" not in done.stderr


def test_server_side_validation_errors_exit_1(live_server: LiveServer) -> None:
    done = keys_cli(live_server, "create", "   ")
    assert done.returncode == 1 and "HTTP 400" in done.stderr


def test_create_and_update_set_allowlists_tags_and_concurrency(live_server: LiveServer) -> None:
    created = as_json(
        keys_cli(
            live_server,
            *("create", "guarded", "--allowed-ip", "10.0.0.0/8", "--allowed-ip", "2001:db8::1"),
            *("--tag", "team-a", "--tag", "env:prod", "--max-concurrency", "3", "--json"),
        )
    )["data"]
    assert created["allowed_ips"] == ["10.0.0.0/8", "2001:db8::1/128"]
    assert (created["tags"], created["max_concurrency"]) == (["team-a", "env:prod"], 3)
    updated = as_json(
        keys_cli(
            live_server, "update", created["hash"], "--any-ip", "--tag", "b", "--no-max-concurrency", "--json"
        )
    )
    assert (updated["allowed_ips"], updated["tags"], updated["max_concurrency"]) == (None, ["b"], None)
    refused = keys_cli(live_server, "update", created["hash"], "--tag", "x", "--no-tags")
    assert refused.returncode != 0 and "exclude each other" in refused.stderr
    bad = keys_cli(live_server, "update", created["hash"], "--allowed-ip", "10.0.0.0/33")
    assert bad.returncode == 1 and "10.0.0.0/33" in bad.stderr


def test_rotate_prints_the_new_secret_and_keeps_the_old_one_for_the_grace(live_server: LiveServer) -> None:
    created = as_json(keys_cli(live_server, "create", "rotating", "--json"))
    rotated = as_json(keys_cli(live_server, "rotate", created["data"]["hash"], "--grace", "1h", "--json"))
    assert rotated["key"] != created["key"] and rotated["data"]["name"] == "rotating"
    assert rotated["data"]["previous_key_expires_at"] is not None
    for secret in (created["key"], rotated["key"]):
        assert (
            as_json(keys_cli(live_server, "current", "--json", key=secret))["hash"] == rotated["data"]["hash"]
        )
    at_once = as_json(keys_cli(live_server, "rotate", rotated["data"]["hash"], "--grace", "0", "--json"))
    assert keys_cli(live_server, "current", key=rotated["key"]).returncode == 1
    assert keys_cli(live_server, "current", key=at_once["key"]).returncode == 0
    bad = keys_cli(live_server, "rotate", at_once["data"]["hash"], "--grace", "soon")
    assert bad.returncode == 1 and "--grace" in bad.stderr
