"""Webhook tests: the loopback receiver is opened to orgs the way an operator would open a host."""

from __future__ import annotations

import pytest

from keyplane.config import Settings
from tests.webhooks.receiver import receiver  # noqa: F401


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allowed_upstream_hosts": "127.0.0.1"})
