"""Gateway tests: the shared harness (tests/harness.py) with a clean upstream log per test."""

from __future__ import annotations

import pytest

from tests.fakes.upstream import RunningUpstream
from tests.harness import GatewaySetup


@pytest.fixture(autouse=True)
def _clear_upstream(upstream: RunningUpstream) -> None:
    upstream.requests.clear()


@pytest.fixture
def setup(gateway_setup: GatewaySetup) -> GatewaySetup:
    return gateway_setup
