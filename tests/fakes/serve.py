"""Serve one provider fake standalone, for the benchmark: `python -m tests.fakes.serve cohere --port 9101`.

Requests are not kept (a long benchmark run would grow the fake's memory without end).
"""

from __future__ import annotations

import argparse
from typing import Any

from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.bedrock import FakeBedrock
from tests.fakes.cohere import FakeCohere


class Forgetful(list[Any]):
    """A request log that keeps nothing."""

    def append(self, item: Any) -> None:
        return None


FAKES = {"anthropic": FakeAnthropic, "bedrock": FakeBedrock, "cohere": FakeCohere}


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="serve one provider fake on loopback")
    parser.add_argument("name", choices=sorted(FAKES))
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = FAKES[args.name](requests=Forgetful())
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="error",
        access_log=False,
        http="httptools",
        loop="uvloop",
    )


if __name__ == "__main__":
    main()
