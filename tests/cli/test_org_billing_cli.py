"""`keyplane budgets|members|workspaces|project-config|prices|rates|credits|audit|keys` as real
processes against a served app, on both backends: `--json` is the API's answer, and at 80 columns
no id, hash or key is cut or wrapped."""

from __future__ import annotations

import pytest

from keyplane import __version__
from tests.cli.runner import Cli
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow

PASSWORD = "a-long-password-for-cli-tests"


@pytest.fixture
def cli(shared_live_server: LiveServer) -> Cli:
    return Cli(shared_live_server)


def test_version_prints_the_package_version(cli: Cli) -> None:
    done = cli.run("--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"keyplane {__version__}")


def test_budgets_from_create_to_delete(cli: Cli) -> None:
    key_hash = cli.json("keys", "create", "budgeted")["data"]["hash"]
    created = cli.json(
        "budgets", "create", "key", "2.5", "--key-hash", key_hash, "--reset", "daily", "--name", "b"
    )
    assert (created["scope"], created["limit"], created["reset"], created["key_hash"]) == (
        "key",
        2.5,
        "daily",
        key_hash,
    )
    budget_id = created["id"]
    assert created == cli.api("GET", f"/api/v1/budgets/{budget_id}")["data"]
    cli.table("budgets", "create", "org", "100", "--name", "org cap", shows=None)
    listed = cli.json("budgets", "list")
    assert listed == cli.api("GET", "/api/v1/budgets")["data"]
    assert cli.json("budgets", "list", "--scope", "key") == [created]
    cli.table("budgets", "list", answer=listed, shows=[{"id": row["id"]} for row in listed])
    cli.table("budgets", "get", budget_id, answer=created, shows=created)

    updated = cli.json("budgets", "update", budget_id, "--limit", "4", "--reset", "never", "--include-byok")
    assert (updated["limit"], updated["reset"], updated["include_byok"]) == (4.0, None, True)
    assert updated == cli.api("GET", f"/api/v1/budgets/{budget_id}")["data"]
    assert cli.json("budgets", "delete", budget_id, "--yes") == {"deleted": True, "id": budget_id}
    assert "(HTTP 404)" in cli.fails("budgets", "get", budget_id)
    assert "(HTTP 400)" in cli.fails("budgets", "create", "workspace", "1")


def test_members_list_invite_set_role_and_remove(cli: Cli) -> None:
    invitation = cli.json("members", "invite", "dana@example.test", "--role", "member", "--name", "Dana")
    assert invitation["token"].startswith("kp_inv_")
    cli.table("members", "invite", "erin@example.test", shows=None)
    pending = cli.json("invitations", "list")
    assert pending == cli.api("GET", "/api/v1/invitations")["data"]
    cli.table("invitations", "list", answer=pending, shows=[{"id": row["id"]} for row in pending])
    accepted = Cli(cli.server, key="unused").json(
        "invitations", "accept", invitation["token"], "--password", PASSWORD
    )
    user_id = accepted["user_id"]

    members = cli.json("members", "list")
    assert members == cli.api("GET", "/api/v1/members")["data"]
    assert user_id in [member["user_id"] for member in members]
    cli.table("members", "list", answer=members, shows=[{"user_id": m["user_id"]} for m in members])
    promoted = cli.json("members", "set-role", user_id, "admin")
    assert (promoted["user_id"], promoted["role"]) == (user_id, "admin")
    assert promoted in cli.api("GET", "/api/v1/members")["data"]
    cli.table("members", "set-role", user_id, "member", shows={"user_id": user_id})
    assert cli.json("members", "remove", user_id, "--yes") == {"deleted": True, "user_id": user_id}
    assert user_id not in [m["user_id"] for m in cli.api("GET", "/api/v1/members")["data"]]
    assert "(HTTP 404)" in cli.fails("members", "remove", user_id, "--yes")


def test_workspaces_and_the_project_config(cli: Cli) -> None:
    created = cli.json("workspaces", "create", "cli workspace")
    listed = cli.json("workspaces", "list")
    assert listed == cli.api("GET", "/api/v1/workspaces")["data"] and created in listed
    cli.table("workspaces", "list", answer=listed, shows=[{"id": row["id"]} for row in listed])
    renamed = cli.json("workspaces", "rename", created["id"], "renamed workspace")
    assert (renamed["id"], renamed["name"]) == (created["id"], "renamed workspace")
    cli.table("workspaces", "rename", created["id"], "again", shows={"id": created["id"]})

    config = cli.json("project-config", "show")
    assert config == cli.api("GET", "/v1/manage/project-configs")
    cli.table("project-config", "show", answer=config, shows=config)
    changed = cli.json(
        "project-config",
        "set",
        "--allowed-provider",
        "vllm",
        "--eu-native",
        "--max-tokens",
        "512",
        "--preference",
        "cost",
    )
    inference = changed["inference_config"]
    assert (inference["allowed_providers"], inference["eu_native"], inference["max_tokens"]) == (
        ["vllm"],
        True,
        512,
    )
    assert inference["preference"] == "cost" and changed == cli.api("GET", "/v1/manage/project-configs")
    reset = cli.json("project-config", "set", "--any-provider", "--no-eu-native", "--no-max-tokens")
    assert (
        reset["inference_config"]["allowed_providers"] == []
        and reset["inference_config"]["max_tokens"] is None
    )
    assert "nothing to change" in cli.fails("project-config", "set")


def test_prices_and_rates(cli: Cli) -> None:
    price = cli.json("prices", "set", "acme/model-x", "1.5", "6", "--cached", "0.5")
    assert (price["model"], price["input"], price["output"], price["cached"]) == (
        "acme/model-x",
        1.5,
        6.0,
        0.5,
    )
    prices = cli.json("prices", "list")
    assert prices == cli.api("GET", "/api/v1/model-prices")["data"] and price in prices
    assert [p["model"] for p in cli.json("prices", "list", "--source", "operator")] == ["acme/model-x"]
    assert "acme/model-x" in cli.table("prices", "list", answer=prices)
    assert cli.json("prices", "remove", "acme/model-x") == {"deleted": True, "model": "acme/model-x"}
    assert price not in cli.api("GET", "/api/v1/model-prices")["data"]

    rate = cli.json("rates", "set", "chf", "0.8")
    assert (rate["currency_code"], rate["rate"]) == ("CHF", 0.8)
    rates = cli.json("rates", "list")
    assert rates == cli.api("GET", "/api/v1/billing/exchange-rates")["data"]
    assert cli.json("rates", "get", "CHF") == rate
    assert "CHF" in cli.table("rates", "list", answer=rates)
    assert "no exchange rate for XXX" in cli.fails("rates", "get", "xxx")


def test_credits_balance_ledger_totals_and_audit(cli: Cli) -> None:
    org_id = cli.json("keys", "current")["organization_id"]
    entry = cli.json("credits", "add", "7.25", "--note", "invoice 7")
    assert (entry["amount"], entry["note"]) == (7.25, "invoice 7")
    balance = cli.json("credits", "balance")
    assert balance == cli.api("GET", "/api/v1/billing/balance")["data"]
    ledger = cli.json("credits", "ledger")
    assert ledger == cli.api("GET", "/api/v1/billing/ledger")["data"]
    assert entry["id"] in [row["id"] for row in ledger]
    cli.table("credits", "ledger", answer=ledger)
    assert cli.json("credits", "totals") == cli.api("GET", "/api/v1/credits")["data"]
    cli.table("credits", "balance", answer=balance)

    events = cli.json("audit", "--action", "credits.added")
    assert events == cli.api("GET", "/api/v1/audit-events", params={"action": "credits.added"})
    assert events["data"] and {event["action"] for event in events["data"]} == {"credits.added"}
    everything = cli.json("audit", "--page-size", "20")
    cli.table("audit", "--page-size", "20", answer=everything)
    assert cli.json("audit", "--org-id", org_id, "--page-size", "20")["data"] == everything["data"]


def test_keys_at_80_columns_never_cut_a_hash_or_the_plaintext(cli: Cli) -> None:
    created = cli.json("keys", "create", "a key with a long descriptive name for narrow terminals")
    shown = cli.table("keys", "create", "narrow key")
    plaintext = next(word for word in shown.split() if word.startswith("sk-kp-v1-") and "..." not in word)
    assert len(plaintext) == len(created["key"])  # the whole key on one line, not a wrapped part
    listed = cli.json("keys", "list")
    cli.table("keys", "list", answer=listed, shows=[{"hash": row["hash"]} for row in listed])
    cli.table("keys", "get", created["data"]["hash"], answer=created["data"], shows=created["data"])
