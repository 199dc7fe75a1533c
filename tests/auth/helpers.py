"""An app with changed settings, reached over httpx's ASGI transport from chosen socket peers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from keyplane.app import create_app
from keyplane.config import Settings
from keyplane.context import AppContext


@asynccontextmanager
async def from_peer(app: FastAPI, peer: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests arrive from socket address `peer`."""
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@asynccontextmanager
async def running(settings: Settings, **overrides: Any) -> AsyncIterator[FastAPI]:
    """create_app with some settings changed, its lifespan running."""
    app = create_app(Settings(**{**settings.model_dump(), **overrides}))
    async with app.router.lifespan_context(app):
        yield app


@asynccontextmanager
async def serve(
    settings: Settings, *, peer: str = "10.1.2.3", **overrides: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    async with running(settings, **overrides) as app, from_peer(app, peer) as http:
        yield http, app.state.keyplane
