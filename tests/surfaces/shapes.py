"""Checks that an error answer has its surface's shape (the one surfaces/error_shapes.py renders)."""

from __future__ import annotations

from typing import Any

import httpx

from keyplane.surfaces.error_shapes import surface_for_path


def _shape_problems(surface: str, status: int, body: Any) -> list[str]:
    """What is wrong with `body` as `surface`'s error for `status` (empty when it is right)."""
    if not isinstance(body, dict):
        return [f"not an object: {body!r}"]
    error = body.get("error")
    if surface == "cortecs":
        return [] if set(body) == {"error"} and isinstance(error, str) and error else ["cortecs"]
    if surface == "openrouter":
        ok = set(body) == {"error"} and isinstance(error, dict) and set(error) == {"code", "message"}
        return [] if ok and error["code"] == status and isinstance(error["message"], str) else ["openrouter"]
    if surface == "portal":
        meta = body.get("meta")
        ok = set(body) == {"meta", "data"} and body["data"] is None and isinstance(meta, dict)
        ok = ok and set(meta) == {"code", "message", "request_id"} and meta["code"] == status
        return [] if ok and isinstance(meta["message"], str) else ["portal"]
    if surface == "bifrost":
        ok = set(body) == {"event_id", "is_bifrost_error", "status_code", "error"}
        ok = ok and body["status_code"] == status and body["is_bifrost_error"] is False
        ok = ok and isinstance(error, dict) and set(error) == {"type", "message"}
        return [] if ok else ["bifrost"]
    ok = set(body) == {"error"} and isinstance(error, dict)
    ok = ok and set(error) == {"message", "type", "param", "code"} and isinstance(error["message"], str)
    return [] if ok else ["openai"]


def assert_error_shape(response: httpx.Response, status: int | None = None) -> None:
    """A 4xx (or exactly `status`) whose JSON body is the error shape of the path's surface."""
    if status is not None:
        assert response.status_code == status, response.text
    assert 400 <= response.status_code < 500, response.text
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    surface = surface_for_path(response.request.url.path)
    problems = _shape_problems(surface, response.status_code, response.json())
    assert not problems, f"{surface} shape expected, got {response.text}"
