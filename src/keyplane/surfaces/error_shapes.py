"""Each surface's error body, chosen by path prefix so every error (auth, validation, 404) keeps it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SURFACE_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/api/v1/portal/", "portal"),
    ("/api/v1/chat/", "openai"),
    ("/api/v1/embeddings", "openai"),
    ("/api/v1/models", "openai"),
    ("/api/v1/completions", "openai"),
    ("/v1/manage/", "cortecs"),
    ("/v1/messages", "anthropic"),
    ("/v1/", "openai"),
    ("/api/providers", "bifrost"),
    ("/api/keys", "bifrost"),
    ("/api/v1/", "openrouter"),
)
DEFAULT_SURFACE = "openrouter"

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "insufficient_quota",
    403: "permission_error",
    404: "not_found_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}

# Anthropic's error types by status (its API reference, "Errors"); out of limit or balance: billing.
ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def surface_for_path(path: str) -> str:
    for prefix, surface in SURFACE_PREFIXES:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return surface
    return DEFAULT_SURFACE


def _openrouter(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error": {"code": status, "message": message}}


def _cortecs(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"error": message}


def _portal(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    return {"meta": {"code": status, "message": message, "request_id": request_id}, "data": None}


def _bifrost(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    return {
        "event_id": request_id,
        "is_bifrost_error": False,
        "status_code": status,
        "error": {"type": code, "message": message},
    }


def _openai(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    error_type = OPENAI_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": error_type, "param": None, "code": code}}


def _anthropic(status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    error_type = ANTHROPIC_ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": error_type, "message": message}, "request_id": request_id}


ERROR_BODIES: dict[str, Callable[[int, str, str, str], dict[str, Any]]] = {
    "openrouter": _openrouter,
    "cortecs": _cortecs,
    "portal": _portal,
    "bifrost": _bifrost,
    "openai": _openai,
    "anthropic": _anthropic,
}


def error_body(path: str, status: int, code: str, message: str, request_id: str) -> dict[str, Any]:
    return ERROR_BODIES[surface_for_path(path)](status, code, message, request_id)
