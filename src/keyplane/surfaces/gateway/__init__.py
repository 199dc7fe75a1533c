"""The OpenAI-compatible gateway surface: a raw ASGI layer for the hot path; it mounts the price routes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from contextlib import AsyncExitStack
from functools import partial

from fastapi import FastAPI

from keyplane.billing.price_changes import PRICE_SINK
from keyplane.context import AppContext
from keyplane.gateway.concurrency import SharedInFlight
from keyplane.gateway.invalidation import SINK, KeyInvalidation, drop_changed_keys
from keyplane.gateway.service import Gateway
from keyplane.gateway.shared_limits import SharedRateLimiter
from keyplane.shared_redis import redis_client
from keyplane.surfaces.gateway.asgi import GatewayFastAPI, GatewayHandler, GatewayMiddleware
from keyplane.surfaces.native_prices import router as prices_router

logger = logging.getLogger("keyplane.gateway")

JANITOR_INTERVAL_SECONDS = 60.0


__all__ = ["GatewayFastAPI", "mount_gateway", "start_gateway"]


def mount_gateway(app: FastAPI, context: AppContext) -> None:
    """Serve the gateway paths ahead of FastAPI: directly when the app is a GatewayFastAPI (no
    middleware, no routing on the hot path), else as the innermost middleware."""
    app.include_router(prices_router)
    if isinstance(app, GatewayFastAPI):
        app.gateway = GatewayHandler(context)
    else:
        app.add_middleware(GatewayMiddleware, context=context)


async def start_gateway(context: AppContext, stack: AsyncExitStack) -> None:
    """Lifespan hook: the gateway's caches, pool, usage flusher and the janitor (crashed processes'
    journals, stale reservations)."""
    gateway = Gateway(context)
    context.services["gateway"] = gateway
    gateway.meter.start()
    janitor = asyncio.create_task(_janitor(gateway, context.settings.stale_reservation_seconds))
    if context.settings.redis_url:
        await _start_redis(context, gateway, stack)
    else:  # one instance's own changes land at once; other instances rely on the short TTL
        context.sessions.configure(
            info={SINK: partial(drop_changed_keys, gateway.keys), PRICE_SINK: gateway.prices.invalidate}
        )
        stack.callback(context.sessions.configure, info={})

    async def stop() -> None:
        janitor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await janitor
        await gateway.meter.stop()
        await gateway.upstream.close()
        context.services.pop("gateway", None)

    stack.push_async_callback(stop)


async def _start_redis(context: AppContext, gateway: Gateway, stack: AsyncExitStack) -> None:
    """Key changes over pub/sub and rate limits shared through Redis (docs/gateway.md)."""
    client = redis_client(context.settings.redis_url or "")
    invalidation = KeyInvalidation(client, gateway.keys, pushed_ttl=context.settings.key_cache_ttl_seconds)
    gateway.shared_limiter = SharedRateLimiter(client, gateway.rate_limiter)
    gateway.shared_in_flight = SharedInFlight(client, gateway.in_flight)
    gateway.shared_in_flight.start()
    context.sessions.configure(info={SINK: invalidation.changed, PRICE_SINK: gateway.prices.invalidate})
    invalidation.start()

    async def stop() -> None:
        context.sessions.configure(info={})
        await invalidation.stop()
        if gateway.shared_limiter is not None:
            await gateway.shared_limiter.close()
            gateway.shared_limiter = None
        if gateway.shared_in_flight is not None:
            await gateway.shared_in_flight.close()
            gateway.shared_in_flight = None
        await client.aclose()

    stack.push_async_callback(stop)


async def _janitor(gateway: Gateway, stale_seconds: float) -> None:
    """At start and every minute: settle killed processes' journals, release stale reservations."""
    while True:
        try:
            await gateway.recover_crashed()
        except Exception:
            logger.exception("settling a killed process's usage journal failed (retried)")
        await asyncio.sleep(JANITOR_INTERVAL_SECONDS)
        try:
            released = await gateway.ledger.release_stale(stale_seconds)
            if released:
                logger.warning("released %d stale spend reservations (crashed requests)", released)
        except Exception:
            logger.exception("stale reservation cleanup failed")
