"""Reads of an org's webhook endpoints and deliveries, always filtered by that org."""

from __future__ import annotations

from collections.abc import Sequence

from keyplane.kernel.repository import OrgRepository
from keyplane.models import WebhookDelivery, WebhookEndpoint


class WebhookEndpointRepository(OrgRepository[WebhookEndpoint]):
    model = WebhookEndpoint
    not_found = "Webhook not found"

    async def subscribed(self, event: str) -> list[WebhookEndpoint]:
        """The org's endpoints that receive `event` (events are few: filtered here, not in SQL)."""
        rows = await self.list(self.select().order_by(WebhookEndpoint.created_at, WebhookEndpoint.id))
        return [row for row in rows if event in (row.events or [])]


class WebhookDeliveryRepository(OrgRepository[WebhookDelivery]):
    model = WebhookDelivery
    not_found = "Delivery not found"

    async def of_endpoint(self, endpoint_id: str, *, limit: int) -> Sequence[WebhookDelivery]:
        """Newest first: what an admin checks after a receiver was down."""
        query = (
            self.select()
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id.desc())
            .limit(limit)
        )
        return await self.list(query)
