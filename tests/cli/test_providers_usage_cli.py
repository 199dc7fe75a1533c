"""`keyplane providers` and `keyplane usage` as real processes against a served app, on both backends:
every command's `--json` is the API's answer, and at 80 columns no id is cut or wrapped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli.runner import Cli
from tests.factories import bearer
from tests.fakes.upstream import RunningUpstream
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow

USAGE_WAIT_SECONDS = 30.0  # an upper bound for a hang; the poll ends as soon as the records are there


@pytest.fixture
def cli(shared_live_server: LiveServer) -> Cli:
    return Cli(shared_live_server)


def _fake_credential(cli: Cli, upstream: RunningUpstream, name: str, *extra: str) -> dict[str, Any]:
    url = f"url=http://127.0.0.1:{upstream.port}"
    created: dict[str, Any] = cli.json(
        "providers", "add", "vllm", name, "--value", "sk-upstream-0123456789", "--set", url, *extra
    )
    return created


def test_catalog_and_settings_match_the_api(cli: Cli) -> None:
    catalog = cli.json("providers", "catalog")
    assert catalog == cli.api("GET", "/api/v1/providers")["data"]
    assert "openai" in cli.table("providers", "catalog", answer=catalog)
    assert cli.json("providers", "settings", "sgl") == cli.api("GET", "/api/v1/providers/sgl")["data"]
    changed = cli.json("providers", "settings", "sgl", "--base-url", "http://10.1.2.3:30000/v1")
    assert (changed["base_url"], changed["base_url_overridden"]) == ("http://10.1.2.3:30000/v1", True)
    assert changed == cli.api("GET", "/api/v1/providers/sgl")["data"]
    assert "http://10.1.2.3:30000/v1" in cli.table("providers", "settings", "sgl")
    restored = cli.json("providers", "settings", "sgl", "--default")
    assert restored["base_url_overridden"] is False


def test_a_credential_from_add_to_remove(cli: Cli, upstream: RunningUpstream) -> None:
    created = _fake_credential(cli, upstream, "cli fake", "--model", "gpt-test", "--platform")
    key_id = created["id"]
    path = f"/api/providers/vllm/keys/{key_id}"
    assert created == cli.api("GET", path)
    assert (created["models"], created["platform"], created["vllm_key_config"]["url"]["value"]) == (
        ["gpt-test"],
        True,
        f"http://127.0.0.1:{upstream.port}",
    )
    assert "0123456789" not in str(created)  # the secret is stored, never shown

    listed = cli.json("providers", "list")
    assert listed == cli.api("GET", "/api/keys")
    assert cli.json("providers", "list", "vllm") == cli.api("GET", "/api/providers/vllm/keys")["keys"]
    cli.table("providers", "list", answer=listed, shows=[{"id": row["id"]} for row in listed])
    cli.table("providers", "get", "vllm", key_id, answer=created, shows=created)

    updated = cli.json(
        "providers",
        "update",
        "vllm",
        key_id,
        "--name",
        "cli fake renamed",
        "--model",
        "gpt-test",
        "--model",
        "b",
    )
    assert (updated["name"], updated["models"]) == ("cli fake renamed", ["gpt-test", "b"])
    assert updated["value"] == created["value"]  # the redacted secret went back and was kept
    assert updated == cli.api("GET", path)

    refreshed = cli.json("providers", "refresh-models", "vllm", key_id)
    assert refreshed["status"] == "success" and refreshed["discovered_models"]
    assert refreshed["discovered_models"] == cli.api("GET", path)["discovered_models"]
    listing = cli.table("providers", "refresh-models", "vllm", key_id, shows={"id": key_id})
    assert all(model in listing for model in refreshed["discovered_models"])

    assert cli.json("providers", "remove", "vllm", key_id, "--yes") == {"deleted": True, "id": key_id}
    assert "(HTTP 404)" in cli.fails("providers", "get", "vllm", key_id)


def test_add_at_80_columns_shows_the_new_id_whole(cli: Cli, upstream: RunningUpstream) -> None:
    key_id = "cli-credential-with-a-rather-long-identifier-0001"
    url = f"url=http://127.0.0.1:{upstream.port}"
    output = cli.table(
        "providers",
        "add",
        "vllm",
        "narrow",
        "--id",
        key_id,
        "--value",
        "sk-x-0123456789",
        "--set",
        url,
        shows={"id": key_id},
    )
    assert "0123456789" not in output
    assert cli.json("providers", "remove", "vllm", key_id, "-y")["deleted"] is True


def test_provider_errors_print_the_api_message(cli: Cli) -> None:
    assert "(HTTP 404)" in cli.fails("providers", "add", "no-such-provider", "x", "--value", "v")
    assert "value is required" in cli.fails("providers", "add", "openai", "no value")
    assert "nothing to change" in cli.fails("providers", "update", "openai", "any-id")


def _chat(server: LiveServer, key: str) -> None:
    body = {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 20}
    response = httpx.post(server.api_url + "/chat/completions", json=body, headers=bearer(key), timeout=60)
    assert response.status_code == 200, response.text


def _wait_for_usage(cli: Cli, key_hash: str, count: int) -> None:
    deadline = time.monotonic() + USAGE_WAIT_SECONDS
    while cli.api("GET", "/api/v1/usage", params={"key_hash": key_hash})["pagination"]["total"] < count:
        assert time.monotonic() < deadline, "the usage records were not written"
        time.sleep(0.05)


@pytest.fixture
def spent_key(cli: Cli, upstream: RunningUpstream) -> str:
    """A key with two metered requests through a platform credential; returns its hash."""
    _fake_credential(cli, upstream, "usage fake", "--model", "gpt-test", "--platform")
    assert cli.json("prices", "set", "gpt-test", "2", "8")["input"] == 2.0
    assert cli.json("credits", "add", "50", "--note", "cli usage test")["amount"] == 50.0
    created = cli.json("keys", "create", "usage cli", "--tag", "cli-test")
    for _ in range(2):
        _chat(cli.server, created["key"])
    _wait_for_usage(cli, created["data"]["hash"], 2)
    key_hash: str = created["data"]["hash"]
    return key_hash


def test_usage_records_groups_and_csv_match_the_api(cli: Cli, spent_key: str, tmp_path: Path) -> None:
    page = cli.json("usage", "--key-hash", spent_key)
    assert page == cli.api("GET", "/api/v1/usage", params={"key_hash": spent_key})
    assert [(r["key_hash"], r["model"]) for r in page["data"]] == [(spent_key, "gpt-test")] * 2
    cli.table("usage", "--key-hash", spent_key, answer=page)

    first = page["data"][-1]["created_at"]
    window = cli.json("usage", "--key-hash", spent_key, "--from", first, "--to", "2999-01-01")
    assert window["pagination"]["total"] == 2
    assert cli.json("usage", "--key-hash", spent_key, "--from", "2999-01-01")["data"] == []

    assert cli.json("usage", "--key-hash", spent_key, "--tag", "cli-test")["pagination"]["total"] == 2
    assert cli.json("usage", "--key-hash", spent_key, "--tag", "other")["data"] == []
    for group_by in ("day", "model", "key", "tag"):
        groups = cli.json("usage", "--group-by", group_by, "--key-hash", spent_key)
        query = {"group_by": group_by, "key_hash": spent_key}
        assert groups == cli.api("GET", "/api/v1/usage", params=query)["data"]
        assert sum(row["requests"] for row in groups) == 2
        cli.table("usage", "--group-by", group_by, "--key-hash", spent_key, answer=groups, shows=groups)

    destination = tmp_path / "usage.csv"
    done = cli.run("usage", "--key-hash", spent_key, "--csv", str(destination))
    assert done.returncode == 0, done.stderr
    exported = httpx.get(
        cli.server.base_url + "/api/v1/usage/export.csv",
        params={"key_hash": spent_key},
        headers=bearer(cli.server.management_key),
    )
    assert destination.read_bytes() == exported.content  # byte for byte, CSV's \r\n included
    assert len(exported.text.splitlines()) == 3 and spent_key in exported.text
    to_stdout = cli.run("usage", "--key-hash", spent_key, "--csv", "-")
    assert to_stdout.stdout == exported.text.replace("\r\n", "\n")  # text mode reads \r\n as \n


def test_usage_errors_print_the_api_message(cli: Cli, tmp_path: Path) -> None:
    assert "(HTTP 400)" in cli.fails("usage", "--from", "yesterday")
    assert "--csv" in cli.fails("usage", "--group-by", "day", "--csv", str(tmp_path / "x.csv"))
    assert "(HTTP 401)" in Cli(cli.server, key="sk_mg_" + "0" * 64).fails(
        "usage", "--csv", str(tmp_path / "denied.csv")
    )
    assert not (tmp_path / "denied.csv").exists()  # a failed export leaves no half-written file
