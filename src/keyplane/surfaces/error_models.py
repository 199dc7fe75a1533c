"""Each surface's error body as a pydantic model, so routes can declare the errors they really send.

The bodies themselves are built in error_shapes.py; tests/surfaces/test_openapi_document.py checks
that every body error_shapes builds validates against the model declared here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from keyplane.surfaces.error_shapes import surface_for_path


class OpenRouterErrorDetail(BaseModel):
    code: int
    message: str


class OpenRouterError(BaseModel):
    """OpenRouter's (and keyplane's native routes') error: the HTTP status repeated as `code`."""

    error: OpenRouterErrorDetail


class CortecsError(BaseModel):
    error: str


class PortalErrorMeta(BaseModel):
    code: int
    message: str
    request_id: str


class PortalError(BaseModel):
    """The portal's {meta, data} envelope with the HTTP status as meta.code and no data."""

    meta: PortalErrorMeta
    data: None


class BifrostErrorDetail(BaseModel):
    type: str
    message: str


class BifrostError(BaseModel):
    event_id: str
    is_bifrost_error: bool
    status_code: int
    error: BifrostErrorDetail


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail


class AnthropicErrorDetail(BaseModel):
    type: str
    message: str


class AnthropicError(BaseModel):
    type: str
    error: AnthropicErrorDetail


ERROR_MODELS: dict[str, type[BaseModel]] = {
    "openrouter": OpenRouterError,
    "cortecs": CortecsError,
    "portal": PortalError,
    "bifrost": BifrostError,
    "openai": OpenAIError,
    "anthropic": AnthropicError,
}

# For a surface added to error_shapes.py without a model here: the document stays servable and
# tests/surfaces/test_openapi_document.py fails until the model is added.
UNKNOWN_ERROR: dict[str, Any] = {"type": "object", "description": "This surface's error body"}

DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input (validation errors included)",
    401: "Missing, malformed or unknown credentials",
    402: "Balance, budget or key limit exhausted",
    403: "Authenticated, but not allowed (scope, role, kind of key, suspended organization)",
    404: "No such object in the caller's organization",
    405: "Method not allowed",
    409: "Conflicts with the current state",
    413: "Request body over the server's cap",
    429: "Too many requests; see Retry-After",
    500: "Internal error",
    501: "Not implemented for this provider",
    502: "The upstream provider failed",
    503: "Not ready",
    504: "The upstream provider did not answer in time",
    508: "Request loop: a credential points at this deployment",
}

ResponsesDoc = dict[int | str, dict[str, Any]]


def error_responses(surface: str, *statuses: int) -> ResponsesDoc:
    """`responses=` for a router or route: each status with the surface's error model."""
    model = ERROR_MODELS[surface]
    return {status: {"model": model, "description": DESCRIPTIONS[status]} for status in statuses}


def error_responses_for(path: str, *statuses: int) -> ResponsesDoc:
    """The same, with the surface chosen by path prefix as the error handlers choose it."""
    return error_responses(surface_for_path(path), *statuses)
