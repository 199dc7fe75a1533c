"""/openapi.json tells the truth: every route is in it, every success is typed, errors are the ones
each surface sends (in its own shape), never FastAPI's unused 422."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from fastapi import routing
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.surfaces.error_models import ERROR_MODELS
from keyplane.surfaces.error_shapes import ERROR_BODIES, surface_for_path
from keyplane.surfaces.gateway.asgi import ROUTES as GATEWAY_ROUTES
from keyplane.surfaces.gateway.openapi import OPERATIONS

METHODS = ("get", "put", "post", "delete", "patch")
PUBLIC = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/invitations/accept"),
}
TEXT_ANSWERS = {
    ("get", "/api/v1/usage/export.csv"): "text/csv",
    ("get", "/metrics"): "text/plain",
}


@cache
def _app_and_document() -> tuple[Any, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(
            Settings(
                data_dir=Path(directory),
                database_url=f"sqlite+aiosqlite:///{directory}/unused.db",
                secret_key="openapi-document-secret-key-for-tests",
                redis_url=None,
            )
        )
    return app, app.openapi()


def document() -> dict[str, Any]:
    return _app_and_document()[1]


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            assert method in METHODS, (path, method)
            yield path, method, operation


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = document()["components"]["schemas"][name]
    return schema


def is_typed(schema: dict[str, Any]) -> bool:
    """An object with declared properties, an array of such, or a union of them; never "any"."""
    schema = resolve(schema)
    if "anyOf" in schema or "oneOf" in schema:
        return all(is_typed(option) for option in schema.get("anyOf", schema.get("oneOf")))
    if schema.get("type") == "array":
        return is_typed(schema.get("items", {}))
    return schema.get("type") == "object" and bool(schema.get("properties"))


def test_no_operation_declares_a_422() -> None:
    found = [(method, path) for path, method, op in operations() if "422" in op["responses"]]
    assert not found, f"422 is never sent (validation is a 400): {found}"
    assert "HTTPValidationError" not in document()["components"]["schemas"]


def test_every_success_answer_has_a_typed_schema() -> None:
    untyped = []
    for path, method, operation in operations():
        successes = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
        assert successes, (method, path)
        for code, response in successes.items():
            for media_type, content in response["content"].items():
                if media_type in ("text/csv", "text/plain"):
                    assert content["schema"]["type"] == "string"
                    continue
                if not is_typed(content["schema"]):
                    untyped.append((method, path, code, media_type))
    assert not untyped, f"success answers typed as 'any': {untyped}"


def test_text_answers_are_declared_with_their_media_type() -> None:
    for (method, path), media_type in TEXT_ANSWERS.items():
        content = document()["paths"][path][method]["responses"]["200"]["content"]
        assert list(content) == [media_type], (path, list(content))


def test_every_route_is_in_the_document() -> None:
    app, _doc = _app_and_document()
    expected = set()
    for route in routing.iter_route_contexts(app.routes):
        original = route.original_route
        if isinstance(original, routing.APIRoute) and original.include_in_schema:
            expected |= {(method.lower(), str(route.path_format)) for method in route.methods or ()}
    expected |= {(method.lower(), path) for path, (method, _operation) in GATEWAY_ROUTES.items()}
    documented = {(method, path) for path, method, _op in operations()}
    assert expected - documented == set(), f"routes missing from /openapi.json: {expected - documented}"
    assert documented - expected == set(), f"documented routes nobody serves: {documented - expected}"
    assert {op for _m, op in GATEWAY_ROUTES.values()} <= set(OPERATIONS), (
        "a gateway operation without models in surfaces/gateway/openapi.py OPERATIONS"
    )
    assert ("post", "/v1/chat/completions") in documented


def test_errors_are_declared_in_the_shape_of_the_surface() -> None:
    for path, method, operation in operations():
        responses = operation["responses"]
        errors = {code: r for code, r in responses.items() if code[0] in "45"}
        if "parameters" in operation or "requestBody" in operation:
            assert "400" in errors, (method, path)
        if "requestBody" in operation:
            assert "413" in errors, (method, path)
        if (method, path) not in PUBLIC:
            assert {"401", "403"} <= set(errors), (method, path, sorted(errors))
            assert operation["security"] == [{"bearer": []}], (method, path)
        else:
            assert "security" not in operation, (method, path)
        model = ERROR_MODELS[surface_for_path(path)].__name__
        for code, response in errors.items():
            if (method, path, code) == ("get", "/readyz", "503"):
                continue  # not an error of a request: the readiness report itself
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": f"#/components/schemas/{model}"}, (method, path, code, schema)


def test_the_errors_sent_are_described_by_their_declared_model() -> None:
    """Each surface's error_shapes body validates against its model's schema in the document."""
    registry = Registry().with_resource(
        "urn:doc", Resource.from_contents(document(), default_specification=DRAFT202012)
    )
    for surface, build in ERROR_BODIES.items():
        model = ERROR_MODELS[surface].__name__
        validator = jsonschema.Draft202012Validator(
            {"$ref": f"urn:doc#/components/schemas/{model}"}, registry=registry
        )
        for status in (400, 401, 403, 404, 409, 413, 429, 502):
            body = build(status, "some_code", "Some message", "req-1")
            errors = [error.message for error in validator.iter_errors(body)]
            assert not errors, (surface, status, errors)


@pytest.mark.parametrize(("method", "path"), sorted(PUBLIC))
def test_the_public_routes_need_no_bearer(method: str, path: str) -> None:
    assert "security" not in document()["paths"][path][method]
