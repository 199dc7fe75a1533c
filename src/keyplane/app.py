"""The ASGI application: every surface mounted over one service layer and one error map."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI

from keyplane import __version__
from keyplane.auth.throttle import start_login_throttle
from keyplane.billing.compaction import start_ledger_compactor
from keyplane.config import Settings, get_settings
from keyplane.context import AppContext
from keyplane.db import create_engine, create_sessionmaker
from keyplane.providers.discovery_schedule import start_model_discovery
from keyplane.surfaces import (
    cortecs,
    native_audit,
    native_auth,
    native_billing,
    native_budgets,
    native_orgs,
    native_tenants,
    native_usage,
    native_webhooks,
    openrouter,
    openrouter_billing,
    operations,
    portal,
)
from keyplane.surfaces.bifrost import router as bifrost_router
from keyplane.surfaces.dashboard.web import install_dashboard
from keyplane.surfaces.docs import install_docs
from keyplane.surfaces.error_handlers import install_error_handlers
from keyplane.surfaces.gateway import GatewayFastAPI, mount_gateway, start_gateway
from keyplane.surfaces.middleware import RequestContextMiddleware
from keyplane.surfaces.native_providers import router as provider_router
from keyplane.surfaces.openapi import install_openapi
from keyplane.webhooks.dispatcher import start_webhook_dispatcher

logger = logging.getLogger("keyplane")

# Lifespan hooks of optional subsystems (gateway workers, ...): each gets the context and may
# register cleanup on the exit stack. Domains append to this list at import time.
LifespanHook = Callable[[AppContext, AsyncExitStack], Awaitable[None]]
LIFESPAN_HOOKS: list[LifespanHook] = []
LIFESPAN_HOOKS.append(start_gateway)
LIFESPAN_HOOKS.append(start_ledger_compactor)
LIFESPAN_HOOKS.append(start_login_throttle)
LIFESPAN_HOOKS.append(start_model_discovery)
LIFESPAN_HOOKS.append(start_webhook_dispatcher)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = create_engine(settings.resolved_database_url, pool_size=settings.db_pool_size)
    context = AppContext(
        settings=settings,
        engine=engine,
        sessions=create_sessionmaker(engine),
        secret_key=settings.resolved_secret_key,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            for hook in LIFESPAN_HOOKS:
                await hook(context, stack)
            try:
                yield {}
            finally:
                logger.info("shutting down")
        await engine.dispose()

    app = GatewayFastAPI(  # FastAPI that answers the gateway's hot paths before any middleware
        title="keyplane",
        version=__version__,
        description="Self-hosted control plane and gateway for LLM API keys.",
        lifespan=lifespan,
        docs_url=None,  # served by surfaces/docs.py with local assets instead of a CDN's
        redoc_url=None,
    )
    app.state.keyplane = context
    install_error_handlers(app)
    install_docs(app)
    for router in (
        operations.router,
        native_auth.public,
        native_auth.signed_in,
        openrouter.management,
        openrouter.any_key,
        provider_router,
        bifrost_router,
        openrouter_billing.router,
        native_billing.router,
        native_usage.router,
        native_audit.router,
        native_orgs.router,  # before native_tenants: /organizations/current is not an org id
        native_tenants.operator,
        native_tenants.public,
        native_tenants.org_admin,
        native_budgets.router,
        native_webhooks.router,
        cortecs.router,
        portal.user_router,
        portal.key_router,
    ):
        app.include_router(router)
    install_dashboard(app)
    mount_gateway(app, context)
    install_openapi(app)  # after every router: the document covers them and the gateway's routes
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
