"""Webhook endpoints: create (URL checked by the egress guard), list, delete; their deliveries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, NotFound
from keyplane.kernel.permissions import require_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.writes import delete_once
from keyplane.models import Organization, WebhookDelivery, WebhookEndpoint
from keyplane.models.base import utcnow
from keyplane.net.egress import EgressPolicy, check_url, split_url
from keyplane.providers.secrets import SecretBox
from keyplane.webhooks import subscriptions
from keyplane.webhooks.repository import WebhookDeliveryRepository, WebhookEndpointRepository
from keyplane.webhooks.schemas import (
    EVENTS,
    MAX_DESCRIPTION_LENGTH,
    MAX_ENDPOINTS_PER_ORG,
    MAX_URL_LENGTH,
    CreatedEndpoint,
)
from keyplane.webhooks.secrets import new_signing_secret, seal

MAX_DELIVERIES_LISTED = 500
ENDPOINT_ID_MAX = 40


def _check_events(events: Sequence[str]) -> list[str]:
    if not events:
        raise BadRequest(f"events must list at least one of: {', '.join(EVENTS)}")
    unknown = sorted({event for event in events if event not in EVENTS})
    if unknown:
        raise BadRequest(
            f"Unknown event '{unknown[0][:100]}'; known events: {', '.join(EVENTS)}", code="unknown_event"
        )
    return list(dict.fromkeys(events))


async def _check_url(url: str, egress: EgressPolicy) -> str:
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise BadRequest(f"url must be at most {MAX_URL_LENGTH} characters")
    split_url(url)
    await check_url(url, egress)  # again at every connection: DNS may answer differently by then
    return url


async def create_endpoint(
    *,
    session: AsyncSession,
    principal: Principal,
    url: str,
    events: Sequence[str],
    description: str | None,
    egress: EgressPolicy,
    box: SecretBox,
) -> CreatedEndpoint:
    """A new endpoint of the caller's org; its signing secret is returned once and kept encrypted."""
    require_admin(principal)
    org_id = principal.require_org()
    checked_events = _check_events(events)
    checked_url = await _check_url(url, egress)
    description = (description or "").strip()
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise BadRequest(f"description must be at most {MAX_DESCRIPTION_LENGTH} characters")
    # Creations in one org take turns (a no-op UPDATE locks its row), so the cap holds under races.
    await session.execute(
        update(Organization).where(Organization.id == org_id).values(updated_at=Organization.updated_at)
    )
    if await WebhookEndpointRepository(session, org_id).count() >= MAX_ENDPOINTS_PER_ORG:
        raise BadRequest(f"An organization has at most {MAX_ENDPOINTS_PER_ORG} webhooks")
    secret = new_signing_secret()
    endpoint = WebhookEndpoint(
        org_id=org_id,
        url=checked_url,
        events=checked_events,
        description=description,
        secret=seal(box, secret),
        created_at=utcnow(),
    )
    session.add(endpoint)
    await session.flush()
    await audit.record(
        session,
        principal,
        "webhook.created",
        audit.Target("webhook_endpoint", endpoint.id, org_id),
        url=checked_url,
        events=checked_events,
    )
    subscriptions.changed()
    return CreatedEndpoint(endpoint, secret)


async def list_endpoints(*, session: AsyncSession, principal: Principal) -> Sequence[WebhookEndpoint]:
    require_admin(principal)
    repository = WebhookEndpointRepository.of(session, principal)
    return await repository.list(repository.select().order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))


async def _endpoint_in_org(session: AsyncSession, principal: Principal, endpoint_id: str) -> WebhookEndpoint:
    if len(endpoint_id) > ENDPOINT_ID_MAX:
        raise NotFound(WebhookEndpointRepository.not_found)
    return await WebhookEndpointRepository.of(session, principal).get_by_id(endpoint_id)


async def delete_endpoint(*, session: AsyncSession, principal: Principal, endpoint_id: str) -> None:
    """Delete an endpoint and its deliveries (pending ones are never sent); one winner, one audit event."""
    require_admin(principal)
    endpoint = await _endpoint_in_org(session, principal, endpoint_id)
    if not await delete_once(session, endpoint):
        raise NotFound(WebhookEndpointRepository.not_found)
    await audit.record(
        session,
        principal,
        "webhook.deleted",
        audit.Target("webhook_endpoint", endpoint_id, endpoint.org_id),
        url=endpoint.url,
    )
    subscriptions.changed()


async def list_deliveries(
    *, session: AsyncSession, principal: Principal, endpoint_id: str, limit: int = 100
) -> Sequence[WebhookDelivery]:
    """The endpoint's deliveries, newest first, with their state (pending, delivered, failed)."""
    require_admin(principal)
    endpoint = await _endpoint_in_org(session, principal, endpoint_id)
    limit = max(1, min(limit, MAX_DELIVERIES_LISTED))
    return await WebhookDeliveryRepository.of(session, principal).of_endpoint(endpoint.id, limit=limit)
