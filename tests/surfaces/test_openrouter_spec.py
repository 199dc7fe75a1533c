"""Every keys-API answer validates against OpenRouter's published OpenAPI 3.1 document.

The spec is ../shared/specs/openrouter-keys.openapi.yaml beside the repository (or
KEYPLANE_OPENROUTER_SPEC); OpenAPI 3.1 schemas are JSON Schema 2020-12, so they validate as they are,
with `$ref`s resolved inside the document.
"""

from __future__ import annotations

import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from keyplane.context import AppContext
from keyplane.orgs.bootstrap import BootstrapResult
from tests.factories import bearer, make_key

SHARED_SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "openrouter-keys.openapi.yaml"
# A vendored copy keeps the test running from the checkout alone; a test keeps it equal to the shared one.
SPEC_PATH = Path(
    os.environ.get("KEYPLANE_OPENROUTER_SPEC") or Path(__file__).with_name("openrouter-keys.openapi.yaml")
)
SPEC_URI = "urn:openrouter-keys"
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        datetime.fromisoformat(value)
    return True


@cache
def _registry() -> Registry:
    if not SPEC_PATH.exists():
        pytest.skip(f"OpenRouter spec not found at {SPEC_PATH}")
    spec = yaml.safe_load(SPEC_PATH.read_text())
    return Registry().with_resource(SPEC_URI, Resource.from_contents(spec, default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(part.replace("~", "~0").replace("/", "~1") for part in parts)


def assert_matches_spec(response: httpx.Response, path: str, method: str) -> None:
    """The body validates against the schema the spec documents for this path, method and status."""
    pointer = _pointer(
        "paths", path, method, "responses", str(response.status_code), "content", "application/json", "schema"
    )
    schema = {"$ref": f"{SPEC_URI}#/{pointer}"}
    validator = jsonschema.Draft202012Validator(schema, registry=_registry(), format_checker=FORMATS)
    errors = sorted(validator.iter_errors(response.json()), key=lambda error: list(error.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


async def test_create_answer_matches_the_spec(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    response = await client.post(
        "/api/v1/keys",
        json={"name": "spec", "limit": 5, "limit_reset": "monthly", "expires_at": "2099-01-01T00:00:00Z"},
        headers=bearer(org.management_key),
    )
    assert response.status_code == 201
    assert_matches_spec(response, "/keys", "post")


async def test_list_answer_matches_the_spec(client: httpx.AsyncClient, org: BootstrapResult) -> None:
    headers = bearer(org.management_key)
    await client.post("/api/v1/keys", json={"name": "a", "limit": 1}, headers=headers)
    await client.post("/api/v1/keys", json={"name": "b"}, headers=headers)
    response = await client.get("/api/v1/keys", headers=headers)
    assert len(response.json()["data"]) == 2
    assert_matches_spec(response, "/keys", "get")


async def test_get_update_and_delete_answers_match_the_spec(
    client: httpx.AsyncClient, org: BootstrapResult
) -> None:
    headers = bearer(org.management_key)
    key_hash = (await client.post("/api/v1/keys", json={"name": "x"}, headers=headers)).json()["data"]["hash"]
    assert_matches_spec(await client.get(f"/api/v1/keys/{key_hash}", headers=headers), "/keys/{hash}", "get")
    patched = await client.patch(f"/api/v1/keys/{key_hash}", json={"disabled": True}, headers=headers)
    assert_matches_spec(patched, "/keys/{hash}", "patch")
    assert_matches_spec(
        await client.delete(f"/api/v1/keys/{key_hash}", headers=headers), "/keys/{hash}", "delete"
    )


async def test_current_key_answers_match_the_spec(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    limited = await make_key(
        context, org_id=org.org_id, user_id=org.user_id, limit_usd=3, limit_reset="weekly"
    )
    assert_matches_spec(await client.get("/api/v1/key", headers=bearer(limited)), "/key", "get")
    assert_matches_spec(await client.get("/api/v1/key", headers=bearer(org.management_key)), "/key", "get")


@pytest.mark.parametrize(
    ("method", "path", "spec_path", "headers", "body", "status"),
    [
        ("post", "/api/v1/keys", "/keys", "management", {"name": ""}, 400),
        ("get", "/api/v1/keys", "/keys", "none", None, 401),
        ("post", "/api/v1/keys", "/keys", "inference", {"name": "x"}, 403),
        ("get", "/api/v1/keys/" + "0" * 64, "/keys/{hash}", "management", None, 404),
        ("patch", "/api/v1/keys/" + "0" * 64, "/keys/{hash}", "management", {"name": "x"}, 404),
        ("get", "/api/v1/key", "/key", "none", None, 401),
    ],
)
async def test_error_answers_match_the_spec(
    client: httpx.AsyncClient,
    org: BootstrapResult,
    context: AppContext,
    method: str,
    path: str,
    spec_path: str,
    headers: str,
    body: dict[str, Any] | None,
    status: int,
) -> None:
    tokens = {
        "management": org.management_key,
        "inference": await make_key(context, org_id=org.org_id, user_id=org.user_id),
    }
    response = await client.request(
        method.upper(), path, json=body, headers=bearer(tokens[headers]) if headers in tokens else {}
    )
    assert response.status_code == status
    assert_matches_spec(response, spec_path, method)


def test_the_vendored_spec_matches_the_shared_one() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip("the shared specs directory is not beside this checkout")
    assert SPEC_PATH.read_bytes() == SHARED_SPEC.read_bytes()


def _own_schema(path: str, method: str, status: str) -> dict[str, Any]:
    """A reference to the schema keyplane's own /openapi.json declares for one answer."""
    pointer = _pointer("paths", path, method, "responses", status, "content", "application/json", "schema")
    return {"$ref": f"urn:keyplane-openapi#/{pointer}"}


async def test_openapi_json_declares_the_answers_the_keys_routes_give(
    client: httpx.AsyncClient, org: BootstrapResult, context: AppContext
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    registry = Registry().with_resource(
        "urn:keyplane-openapi", Resource.from_contents(openapi, default_specification=DRAFT202012)
    )
    headers = bearer(org.management_key)
    created = await client.post("/api/v1/keys", json={"name": "doc", "limit": 2}, headers=headers)
    key_hash = created.json()["data"]["hash"]
    answers = [
        (created, "/api/v1/keys", "post", "201"),
        (await client.get("/api/v1/keys", headers=headers), "/api/v1/keys", "get", "200"),
        (
            await client.get(f"/api/v1/keys/{key_hash}", headers=headers),
            "/api/v1/keys/{key_hash}",
            "get",
            "200",
        ),
        (await client.get("/api/v1/key", headers=headers), "/api/v1/key", "get", "200"),
        (
            await client.delete(f"/api/v1/keys/{key_hash}", headers=headers),
            "/api/v1/keys/{key_hash}",
            "delete",
            "200",
        ),
    ]
    for response, path, method, status in answers:
        assert str(response.status_code) == status, response.text
        schema = _own_schema(path, method, status)
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        errors = [error.message for error in validator.iter_errors(response.json())]
        assert not errors, (path, method, errors[:3])
        declared = openapi["paths"][path][method]["responses"][status]["content"]["application/json"][
            "schema"
        ]
        assert "$ref" in declared, (path, method, declared)
