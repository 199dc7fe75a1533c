"""Webhook calls: endpoints for threshold alerts (the secret is answered once) and their deliveries."""

from __future__ import annotations

from keyplane.client.calls import Call, nothing, params, path, reader, whole
from keyplane.client.types import CreatedWebhook, Webhook, WebhookDelivery, WebhookEvent


def list_webhooks() -> Call[list[Webhook]]:
    """The org's webhook endpoints (org admins); secrets are never listed."""
    return Call("GET", "/api/v1/webhooks", reader(list[Webhook]))


def create_webhook(
    url: str, events: list[WebhookEvent] | None = None, *, description: str | None = None
) -> Call[CreatedWebhook]:
    """Subscribe `url` (default event: budget.threshold); keep the answer's `secret`: it is shown once."""
    body: dict[str, object] = {"url": url, "events": events or ["budget.threshold"]}
    if description is not None:
        body["description"] = description
    return Call("POST", "/api/v1/webhooks", whole(CreatedWebhook), json=body)


def delete_webhook(webhook_id: str) -> Call[None]:
    """Delete an endpoint; its pending deliveries are dropped."""
    return Call("DELETE", path("/api/v1/webhooks/{}", webhook_id), nothing)


def list_webhook_deliveries(webhook_id: str, *, limit: int | None = None) -> Call[list[WebhookDelivery]]:
    """An endpoint's deliveries, newest first: pending (with the next attempt), delivered or failed."""
    return Call(
        "GET",
        path("/api/v1/webhooks/{}/deliveries", webhook_id),
        reader(list[WebhookDelivery]),
        params=params(limit=limit),
    )
