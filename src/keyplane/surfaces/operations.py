"""Health, readiness and Prometheus metrics: open to anyone, no secrets."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from keyplane import __version__
from keyplane.deps import get_context

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: str
    version: str


class Readiness(BaseModel):
    status: str
    database: str


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health(status="ok", version=__version__)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database is unreachable"}},
)
async def readyz(request: Request, response: Response) -> Readiness:
    try:
        async with get_context(request).engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception:  # readiness reports, it never raises
        response.status_code = 503
        return Readiness(status="unavailable", database="unreachable")
    return Readiness(status="ready", database="ok")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus text exposition format"}},
)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
