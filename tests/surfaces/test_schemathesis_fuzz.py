"""A bounded schemathesis run over every route of /openapi.json against a served keyplane, as the
operator: no server error, every status code documented, every answer valid against its schema.

Per operation: generated valid and invalid requests, and valid ones addressing existing objects
(fuzz_world.FuzzWorld.known). Fixed seed, a few examples each and a time budget; the budget only
trims the examples past the first one, so every operation is always called.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from keyplane.config import Settings
from keyplane.surfaces.gateway.asgi import ROUTES as GATEWAY_ROUTES
from tests import backends
from tests.fakes.upstream import RunningUpstream
from tests.surfaces.fuzz_world import MODEL, FuzzWorld, build_world, loopback_only

BACKEND_NAMES = ("sqlite", "postgresql")
SEED = 20_251_011
# Per operation, and per backend; past the budget each remaining operation gets one example.
# KEYPLANE_FUZZ_EXAMPLES / KEYPLANE_FUZZ_SECONDS run a deeper hunt locally.
EXAMPLES = int(os.environ.get("KEYPLANE_FUZZ_EXAMPLES", "8"))
BUDGET_SECONDS = float(os.environ.get("KEYPLANE_FUZZ_SECONDS", "12"))
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
USER_SESSION_ONLY = ("/api/v1/auth/me", "/api/v1/portal/management/api-keys")
# Known ids never given to these: a fuzzed URL on the known credential, or on the provider's
# platform settings, would be where the next refresh-models call connects.
NO_KNOWN_IDS = {
    ("PUT", "/api/providers/{provider}/keys/{key_id}"),
    ("PUT", "/api/v1/providers/{provider}/settings"),
}
CREDENTIALS_IN_BODY = {"POST /api/v1/auth/login", "POST /api/v1/invitations/accept"}
METHOD_ORDER = {"GET": 1, "POST": 2, "PUT": 2, "PATCH": 2, "DELETE": 3}  # deletes last, gateway first
VALID_BODIES = {
    "chat/completions": [
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
    ],
    "embeddings": [{"model": MODEL, "input": "hi"}],
}


@pytest.fixture(scope="module", params=BACKEND_NAMES)
def world(
    request: pytest.FixtureRequest,
    sqlite_template: Path,
    postgres_database: str | None,
    tmp_path_factory: pytest.TempPathFactory,
    upstream: RunningUpstream,
) -> Iterator[FuzzWorld]:
    directory = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        url = backends.sqlite_copy(sqlite_template, directory)
    elif postgres_database is None:
        backends.unavailable("PostgreSQL")
        raise AssertionError("unreachable")
    else:
        asyncio.run(backends.truncate_all(postgres_database))
        url = postgres_database
    settings = Settings(
        data_dir=directory / "data",
        database_url=url,
        secret_key="fuzz-secret-key-for-keyplane-tests",
        redis_url=None,
        usage_flush_interval_seconds=0.05,
        upstream_timeout_seconds=30.0,
    )
    with loopback_only():
        yield from build_world(settings, upstream.base_url)


def _auth(world: FuzzWorld, path: str) -> dict[str, str]:
    if path.startswith(USER_SESSION_ONLY):
        return world.session
    if path in GATEWAY_ROUTES:
        return world.inference
    return world.management


def _strategies(world: FuzzWorld, operation: Any) -> Any:
    headers = _auth(world, operation.path)
    plain = FeedbackSources()  # the default extracts the whole document's constants on every call
    options = [
        operation.as_strategy(GenerationMode.POSITIVE, headers=headers, feedback=plain),
        operation.as_strategy(GenerationMode.NEGATIVE, headers=headers, feedback=plain),
    ]
    names = [p.name for p in operation.path_parameters]
    if names and (operation.method.upper(), operation.path) not in NO_KNOWN_IDS:
        known = {name: world.known[name] for name in names if name in world.known}
        if known:
            options.append(
                operation.as_strategy(
                    GenerationMode.POSITIVE, headers=headers, path_parameters=known, feedback=plain
                )
            )
    return st.one_of(options)


def _explicit_cases(world: FuzzWorld, operation: Any) -> list[Any]:
    for suffix, bodies in VALID_BODIES.items():
        if operation.path.endswith(suffix):
            headers = _auth(world, operation.path)
            return [
                operation.Case(body=body, headers=headers, media_type="application/json") for body in bodies
            ]
    return []


class Findings:
    """Failures per operation and check (first example kept), and how many requests were sent."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], str] = {}
        self.statuses: dict[str, set[int]] = {}
        self.calls = 0

    def check(self, world: FuzzWorld, http: requests.Session, case: Any) -> None:
        self.calls += 1
        label = case.operation.label
        try:
            response = case.call(base_url=world.base_url, session=http, timeout=30)
            self.statuses.setdefault(label, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS)
        except FailureGroup as group:
            for failure in group.exceptions:
                self.found.setdefault((label, type(failure).__name__), str(group)[:3000])
        except requests.RequestException as exc:
            self.found.setdefault((label, type(exc).__name__), repr(exc))

    def report(self) -> str:
        return "\n\n".join(
            f"== {label} [{kind}]\n{text}" for (label, kind), text in sorted(self.found.items())
        )


def _operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    return sorted(
        found,
        key=lambda op: (0 if op.path in GATEWAY_ROUTES else METHOD_ORDER[op.method.upper()], op.label),
    )


@cache
def _load(document: str) -> Any:
    """Loading is the slow part of a small run: once for both backends (the document is the same)."""
    return schemathesis.openapi.from_dict(json.loads(document))


def test_every_route_answers_as_its_schema_says(world: FuzzWorld) -> None:
    served = httpx.get(world.base_url + "/openapi.json", timeout=30)
    document = served.json()
    operations = _operations(_load(served.text))
    assert len(operations) == sum(len(item) for item in document["paths"].values())
    findings = Findings()
    deadline = time.monotonic() + BUDGET_SECONDS
    with requests.Session() as http:
        for operation in operations:
            for case in _explicit_cases(world, operation):
                findings.check(world, http, case)
            examples = EXAMPLES if time.monotonic() < deadline else 1

            @seed(SEED)
            @settings(
                max_examples=examples,
                phases=[Phase.explicit, Phase.generate],
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=_strategies(world, operation))
            def fuzz(case: Any) -> None:
                findings.check(world, http, case)

            fuzz()
    assert findings.calls >= len(operations)
    # A run that only ever met the auth layer tests nothing: each caller must be let in somewhere.
    refused_only = [label for label, seen in findings.statuses.items() if seen <= {401, 403}]
    assert set(refused_only) <= CREDENTIALS_IN_BODY, refused_only
    assert not findings.found, (
        f"{len(findings.found)} findings in {findings.calls} calls:\n{findings.report()}"
    )
