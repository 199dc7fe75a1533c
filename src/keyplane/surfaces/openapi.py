"""/openapi.json as the app really answers: no 422 (validation is a 400 in each surface's shape), the
body cap's 413, bearer auth where a route authenticates, and the gateway's raw ASGI routes merged in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI, routing
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from keyplane.deps import get_principal
from keyplane.surfaces.error_models import DESCRIPTIONS, ERROR_MODELS, UNKNOWN_ERROR
from keyplane.surfaces.error_shapes import surface_for_path
from keyplane.surfaces.gateway.openapi import gateway_openapi

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
BEARER = {"bearer": {"type": "http", "scheme": "bearer", "description": "A keyplane API key or session"}}


def install_openapi(app: FastAPI) -> None:
    """Replace app.openapi with the corrected document (built once, then cached like FastAPI's)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build_document(app: FastAPI) -> dict[str, Any]:
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        description=app.description,
        routes=app.routes,
    )
    schemas: dict[str, Any] = document.setdefault("components", {}).setdefault("schemas", {})
    authenticated = _authenticated_operations(app)
    for path, method, operation in _operations(document):
        responses = operation.setdefault("responses", {})
        responses.pop("422", None)
        error = _error_content(schemas, path)
        if ("parameters" in operation or "requestBody" in operation) and "400" not in responses:
            responses["400"] = {"description": DESCRIPTIONS[400], "content": error}
        if "requestBody" in operation and "413" not in responses:
            responses["413"] = {"description": DESCRIPTIONS[413], "content": error}
        if (method, path) in authenticated:
            operation["security"] = [{"bearer": []}]
    gateway_paths, gateway_schemas = gateway_openapi()
    document["paths"].update(gateway_paths)
    for name, schema in gateway_schemas.items():
        schemas.setdefault(name, schema)
    document["components"]["securitySchemes"] = BEARER
    for name in VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document.get("paths", {}).items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _error_content(schemas: dict[str, Any], path: str) -> dict[str, Any]:
    model = ERROR_MODELS.get(surface_for_path(path))
    schema = _component(schemas, model) if model is not None else UNKNOWN_ERROR  # a test fails on it
    return {"application/json": {"schema": schema}}


def _component(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    if model.__name__ not in schemas:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _authenticated_operations(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of the routes whose dependencies resolve a principal from the bearer token."""
    found = set()
    for route in routing.iter_route_contexts(app.routes):  # routers included with their prefixes
        if isinstance(route.original_route, routing.APIRoute) and _calls(route.dependant, get_principal):
            found |= {(method.lower(), str(route.path_format)) for method in route.methods or ()}
    return found


def _calls(dependant: Dependant, target: Callable[..., Any]) -> bool:
    return dependant.call is target or any(_calls(d, target) for d in dependant.dependencies)
