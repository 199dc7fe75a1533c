"""The Cortecs contract checker: every Cortecs test validates each response against the spec file.

`assert_cortecs_response` loads the shared specs/cortecs-management.openapi.json beside the
repository (or KEYPLANE_CORTECS_SPEC, or the vendored copy next to this file), turns OpenAPI 3.0
schemas into JSON Schema (`nullable` becomes a type union) and validates the body for the
operation and status code. It is strict: the status must be documented for the operation, every
documented property must be present and no undocumented one may appear, and date-time strings
must parse.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

SHARED_SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "cortecs-management.openapi.json"
VENDORED_SPEC = Path(__file__).with_suffix(".openapi.json")  # a copy, so the checkout alone suffices
SPEC_PATH = Path(
    os.environ.get("KEYPLANE_CORTECS_SPEC") or (SHARED_SPEC if SHARED_SPEC.exists() else VENDORED_SPEC)
)
SERVER_PREFIX = "/v1"  # the spec's server is https://api.cortecs.ai/v1

FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time")
    datetime.fromisoformat(value)
    return True


def openapi_to_json_schema(schema: Any, *, strict: bool) -> Any:
    """`nullable: true` becomes a type union with null; strict objects require and allow exactly
    their documented properties."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(item, strict=strict) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: openapi_to_json_schema(value, strict=strict) for key, value in schema.items()}
    if converted.pop("nullable", False):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        if "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    if strict and converted.get("type") == "object" and "properties" in converted:
        converted["required"] = sorted(converted["properties"])
        converted["additionalProperties"] = False
    return converted


@cache
def load_spec() -> dict[str, Any]:
    if not SPEC_PATH.exists():
        pytest.fail(f"Cortecs spec not found at {SPEC_PATH} (set KEYPLANE_CORTECS_SPEC)")
    spec: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return spec


def response_schema(method: str, path: str, status: int, *, strict: bool = True) -> dict[str, Any]:
    spec = load_spec()
    operation = spec["paths"][path][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, (
        f"{method.upper()} {path} answered {status}, which the spec does not document "
        f"(documented: {', '.join(responses)})"
    )
    content = responses[str(status)].get("content", {}).get("application/json")
    assert content is not None, f"{method.upper()} {path} {status} has no JSON body in the spec"
    schema = openapi_to_json_schema(copy.deepcopy(content["schema"]), strict=strict)
    components = openapi_to_json_schema(copy.deepcopy(spec.get("components", {})), strict=strict)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema, "components": components}


def assert_cortecs_response(response: httpx.Response, *, status: int | None = None) -> Any:
    """Check status (when given), JSON content type and body against the operation's schema."""
    if status is not None:
        assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    request = response.request
    path = request.url.path
    assert path.startswith(SERVER_PREFIX), path
    spec_path = path[len(SERVER_PREFIX) :]
    body = response.json()
    schema = response_schema(request.method, spec_path, response.status_code)
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(body)
    return body


def test_nullable_becomes_a_null_union() -> None:
    schema = openapi_to_json_schema(
        {"type": "string", "enum": ["speed", "cost"], "nullable": True}, strict=True
    )
    assert schema == {"type": ["string", "null"], "enum": ["speed", "cost", None]}


def test_strict_objects_require_all_and_only_documented_properties() -> None:
    schema = response_schema("get", "/manage/users/balance", 200)
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    validator.validate({"current_balance": 1.5, "currency": "USD"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"current_balance": 1.5})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"current_balance": 1.5, "currency": "USD", "extra": 1})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"current_balance": "1.5", "currency": "USD"})


def test_project_config_schema_checks_nullable_fields_and_timestamps() -> None:
    schema = response_schema("get", "/manage/project-configs", 200)
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    body = {
        "_id": "a",
        "project_id": "b",
        "inference_config": {
            "allowed_providers": [],
            "eu_native": False,
            "allow_quantization": True,
            "allow_zero_data_retention": False,
            "enable_model_fallback": True,
            "preference": None,
            "max_tokens": None,
        },
        "allow_overwrite": False,
        "created_at": "2025-09-25T08:29:50.735Z",
        "updated_at": "2025-09-25T08:29:50.735Z",
    }
    validator.validate(body)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body, "created_at": "yesterday"})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**body, "inference_config": {**body["inference_config"], "preference": "fast"}})


def test_undocumented_status_is_a_failure() -> None:
    with pytest.raises(AssertionError, match="does not document"):
        response_schema("post", "/manage/api-keys", 404)


def test_the_vendored_spec_matches_the_shared_one() -> None:
    if not SHARED_SPEC.exists():
        pytest.skip("the shared specs directory is not beside this checkout")
    assert json.loads(VENDORED_SPEC.read_text()) == json.loads(SHARED_SPEC.read_text())
