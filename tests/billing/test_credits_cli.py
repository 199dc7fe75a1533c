"""`keyplane credits` and `keyplane rates` on a real server; the OpenRouter SDK reads credits and activity."""

from __future__ import annotations

import json

import pytest
from openrouter import OpenRouter

from tests.live_server import LiveServer, run_cli

pytestmark = pytest.mark.slow


def cli_env(server: LiveServer) -> dict[str, str]:
    return {**server.env, "KEYPLANE_URL": server.base_url, "KEYPLANE_MANAGEMENT_KEY": server.management_key}


def test_credits_add_then_balance_in_another_currency(live_server: LiveServer) -> None:
    env = cli_env(live_server)
    added = run_cli(["credits", "add", "12.5", "--note", "po 42", "--json"], env)
    assert added.returncode == 0, added.stderr
    entry = json.loads(added.stdout)
    assert (entry["amount"], entry["note"], entry["balance"]) == (12.5, "po 42", 12.5)
    assert run_cli(["rates", "set", "eur", "0.5"], env).returncode == 0
    balance = run_cli(["credits", "balance", "--currency", "EUR", "--json"], env)
    assert (json.loads(balance.stdout)["balance"], json.loads(balance.stdout)["currency"]) == (6.25, "EUR")
    listed = run_cli(["rates", "list", "--json"], env)
    assert [r["currency_code"] for r in json.loads(listed.stdout)] == ["EUR"]


def test_credits_add_reports_a_bad_amount_without_changing_anything(live_server: LiveServer) -> None:
    env = cli_env(live_server)
    refused = run_cli(["credits", "add", "0"], env)
    assert refused.returncode == 1
    assert "amount must be greater than 0" in refused.stderr
    unknown = run_cli(["credits", "balance", "--currency", "XYZ"], env)
    assert unknown.returncode == 1 and "Unknown currency 'XYZ'" in unknown.stderr
    assert json.loads(run_cli(["credits", "balance", "--json"], env).stdout)["balance"] == 0.0


def test_openrouter_sdk_reads_credits_and_activity(live_server: LiveServer) -> None:
    assert run_cli(["credits", "add", "100.5"], cli_env(live_server)).returncode == 0
    with OpenRouter(
        api_key=live_server.management_key, server_url=live_server.api_url, retry_config=None
    ) as client:
        credits = client.credits.get_credits()
        assert (credits.data.total_credits, credits.data.total_usage) == (100.5, 0.0)
        assert client.analytics.get_user_activity().data == []
