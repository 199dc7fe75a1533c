"""The one place where errors become responses: KeyplaneError, validation, routing and crashes."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from keyplane.errors import KeyplaneError
from keyplane.kernel.writes import is_unique_violation
from keyplane.surfaces.dashboard.errors import dashboard_error, is_dashboard_path
from keyplane.surfaces.error_shapes import error_body

logger = logging.getLogger("keyplane.errors")

HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    400: "bad_request",
    413: "payload_too_large",
}


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def render_error(
    request: Request, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    if is_dashboard_path(request.url.path):  # people, not clients: an HTML page or the sign-in redirect
        return dashboard_error(request, status, message, headers)
    body = error_body(request.url.path, status, code, message, request_id_of(request))
    return JSONResponse(body, status_code=status, headers=headers)


def describe_validation_error(exc: RequestValidationError) -> str:
    """A short human sentence naming each bad field, without echoing the submitted values."""
    parts = []
    for error in exc.errors()[:5]:
        location = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        if error.get("type") == "json_invalid":
            return "Malformed JSON body"
        field = ".".join(location) or "request body"
        message = str(error.get("msg", "is invalid"))
        parts.append(f"{field}: {message}")
    return "Invalid request: " + "; ".join(parts) if parts else "Invalid request"


async def _keyplane_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KeyplaneError)
    return render_error(request, exc.status_code, exc.code, exc.message, exc.headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return render_error(request, 400, "invalid_request", describe_validation_error(exc))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = str(exc.detail) if exc.detail else "Error"
    if exc.status_code == 404 and message == "Not Found":
        message = "Resource not found"
    return render_error(
        request,
        exc.status_code,
        HTTP_CODES.get(exc.status_code, "http_error"),
        message,
        dict(exc.headers or {}),
    )


# PostgreSQL's character_not_in_repertoire (NUL in text) and untranslatable_character (NUL in JSONB).
UNSTORABLE_TEXT_SQLSTATES = frozenset({"22021", "22P05"})


def is_unstorable_text(exc: BaseException) -> bool:
    """The database refused a character it cannot store (PostgreSQL and NUL): the input's fault."""
    seen: BaseException | None = exc
    while seen is not None:
        if getattr(seen, "sqlstate", None) in UNSTORABLE_TEXT_SQLSTATES:
            return True
        if type(seen).__name__ == "CharacterNotInRepertoireError" or "invalid byte sequence" in str(seen):
            return True
        seen = seen.__cause__ or getattr(seen, "orig", None)
    return False


CONFLICT_MESSAGE = "A conflicting change was made at the same time; read the current state and retry"


async def _database_error(request: Request, exc: Exception) -> Response:
    if is_unstorable_text(exc):
        return render_error(
            request, 400, "invalid_request", "Input contains characters that cannot be stored"
        )
    if is_unique_violation(exc):  # a service without its own message for this race (flush_or_conflict)
        logger.info("unique violation on %s %s answered 409", request.method, request.url.path)
        return render_error(request, 409, "conflict", CONFLICT_MESSAGE)
    return await _unhandled_error(request, exc)


async def _unhandled_error(request: Request, exc: Exception) -> Response:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return render_error(request, 500, "internal_error", "Internal Server Error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(KeyplaneError, _keyplane_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unhandled_error)
