"""`keyplane webhooks add|list|remove|deliveries` as real processes against a served app: `--json`
is the API's answer, the secret is printed once, and at 80 columns no id or URL is cut."""

from __future__ import annotations

import pytest

from tests.cli.runner import Cli
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow

URL = "https://93.184.216.34/keyplane-cli"


@pytest.fixture
def cli(shared_live_server: LiveServer) -> Cli:
    return Cli(shared_live_server)


def test_webhooks_from_add_to_remove(cli: Cli) -> None:
    created = cli.json("webhooks", "add", URL, "--description", "pager")
    assert created["secret"].startswith("whsec_")
    webhook = created["data"]
    assert (webhook["url"], webhook["events"], webhook["description"]) == (URL, ["budget.threshold"], "pager")
    listed = cli.json("webhooks", "list")
    assert webhook in listed and listed == cli.api("GET", "/api/v1/webhooks")["data"]
    cli.table("webhooks", "list", answer=listed, shows=[{"id": webhook["id"]}])
    assert cli.json("webhooks", "deliveries", webhook["id"]) == []
    cli.table("webhooks", "deliveries", webhook["id"], shows=None)

    shown = cli.table("webhooks", "add", URL, "--event", "budget.threshold", shows=None)
    assert shown.count("whsec_") == 1 and "shown once" in shown

    assert cli.json("webhooks", "remove", webhook["id"], "--yes") == {"deleted": True, "id": webhook["id"]}
    assert webhook["id"] not in {w["id"] for w in cli.json("webhooks", "list")}
    assert "Webhook not found" in cli.fails("webhooks", "remove", webhook["id"], "--yes")


def test_a_private_url_is_refused_with_the_reason(cli: Cli) -> None:
    assert "not a public internet address" in cli.fails("webhooks", "add", "http://169.254.169.254/")
