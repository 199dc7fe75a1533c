"""Gateway tests: the shared harness (tests/harness.py) with clean upstream logs per test, and the
loopback fakes of Anthropic and of an OpenAI-style upstream with tool calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.cohere import FakeCohere
from tests.fakes.openai_tools import ToolsUpstream
from tests.fakes.upstream import RunningUpstream
from tests.fakes.vertex import FakeVertex
from tests.harness import GatewaySetup


@pytest.fixture(autouse=True)
def _clear_upstream(upstream: RunningUpstream) -> None:
    upstream.requests.clear()


@pytest.fixture
def setup(gateway_setup: GatewaySetup) -> GatewaySetup:
    return gateway_setup


@pytest.fixture(scope="session")
def anthropic_upstream() -> Iterator[RunningUpstream]:
    """The loopback fake of Anthropic's Messages API (tests/fakes/anthropic.py)."""
    running = RunningUpstream(FakeAnthropic()).start()  # type: ignore[arg-type]
    yield running
    running.stop()


@pytest.fixture(scope="session")
def tools_upstream() -> Iterator[RunningUpstream]:
    """The fake OpenAI-compatible upstream with tool calls (tests/fakes/openai_tools.py)."""
    running = RunningUpstream(ToolsUpstream()).start()
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def _clear_fakes(request: pytest.FixtureRequest) -> None:
    for name in ("anthropic_upstream", "tools_upstream", "cohere_upstream", "bedrock_upstream"):
        if name in request.fixturenames:
            request.getfixturevalue(name).requests.clear()
    if "vertex_upstream" in request.fixturenames:
        request.getfixturevalue("vertex_upstream").app.reset()


@pytest.fixture(scope="session")
def cohere_upstream() -> Iterator[RunningUpstream]:
    """The loopback fake of Cohere's v2 API (tests/fakes/cohere.py)."""
    running = RunningUpstream(FakeCohere()).start()  # type: ignore[arg-type]
    yield running
    running.stop()


@pytest.fixture(scope="session")
def bedrock_upstream() -> Iterator[RunningUpstream]:
    """The loopback fake of Bedrock's runtime and ListFoundationModels (tests/fakes/bedrock.py)."""
    running = RunningUpstream(FakeBedrock()).start()  # type: ignore[arg-type]
    yield running
    running.stop()


@pytest.fixture(scope="session")
def vertex_upstream() -> Iterator[RunningUpstream]:
    """The loopback fake of Vertex AI and its token endpoint (tests/fakes/vertex.py)."""
    running = RunningUpstream(FakeVertex()).start()  # type: ignore[arg-type]
    yield running
    running.stop()
