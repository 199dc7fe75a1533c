"""keyplane's own webhook routes: endpoints for threshold alerts and their deliveries (org admins)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from keyplane.deps import OrgAdminPrincipal, Session, get_context, require_management_key
from keyplane.models import WebhookDelivery, WebhookEndpoint
from keyplane.net.egress import EgressPolicy, egress_policy
from keyplane.providers.secrets import SecretBox, box_for
from keyplane.surfaces.error_models import error_responses
from keyplane.surfaces.native_params import NO_CONTROL_CHARACTERS, IdPath
from keyplane.surfaces.openrouter_shapes import Deleted, iso
from keyplane.webhooks import service
from keyplane.webhooks.schemas import MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH

router = APIRouter(
    prefix="/api/v1/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_management_key)],
    responses=error_responses("openrouter", 400, 401, 403),
)
NOT_FOUND = error_responses("openrouter", 404)

Event = Literal["budget.threshold"]


class CreateWebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Annotated[StrictStr, Field(min_length=1, max_length=MAX_URL_LENGTH, pattern=NO_CONTROL_CHARACTERS)]
    events: list[Event] = Field(min_length=1, max_length=10, description="Events to receive.")
    description: (
        Annotated[StrictStr, Field(max_length=MAX_DESCRIPTION_LENGTH, pattern=NO_CONTROL_CHARACTERS)] | None
    ) = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    description: str
    created_at: str


class WebhookCreated(BaseModel):
    """The endpoint and its signing secret (`whsec_...`), shown this once."""

    data: WebhookOut
    secret: str


class WebhookList(BaseModel):
    data: list[WebhookOut]


class DeliveryOut(BaseModel):
    """One event for one endpoint: `pending` (due at `next_attempt_at`), `delivered` or `failed`."""

    id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    payload: dict[str, Any]


class DeliveryList(BaseModel):
    data: list[DeliveryOut]


def _egress(request: Request) -> EgressPolicy:
    return egress_policy(get_context(request).settings.allowed_upstream_hosts)


def _box(request: Request) -> SecretBox:
    context = get_context(request)
    return box_for(context.secret_key, context.settings.secret_key_previous)


def webhook_object(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events or []),
        description=endpoint.description,
        created_at=iso(endpoint.created_at),
    )


def delivery_object(delivery: WebhookDelivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.id,
        event_type=delivery.event_type,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=iso(delivery.created_at),
        delivered_at=iso(delivery.delivered_at),
        payload=delivery.payload,
    )


@router.post("", status_code=201, response_model=WebhookCreated)
async def create_webhook(
    body: CreateWebhookBody,
    session: Session,
    principal: OrgAdminPrincipal,
    egress: Annotated[EgressPolicy, Depends(_egress)],
    box: Annotated[SecretBox, Depends(_box)],
) -> WebhookCreated:
    created = await service.create_endpoint(
        session=session,
        principal=principal,
        url=body.url,
        events=body.events,
        description=body.description,
        egress=egress,
        box=box,
    )
    return WebhookCreated(data=webhook_object(created.endpoint), secret=created.secret)


@router.get("", response_model=WebhookList)
async def list_webhooks(session: Session, principal: OrgAdminPrincipal) -> WebhookList:
    found = await service.list_endpoints(session=session, principal=principal)
    return WebhookList(data=[webhook_object(endpoint) for endpoint in found])


@router.delete("/{webhook_id}", response_model=Deleted, responses=NOT_FOUND)
async def delete_webhook(webhook_id: IdPath, session: Session, principal: OrgAdminPrincipal) -> Deleted:
    await service.delete_endpoint(session=session, principal=principal, endpoint_id=webhook_id)
    return Deleted(deleted=True)


@router.get("/{webhook_id}/deliveries", response_model=DeliveryList, responses=NOT_FOUND)
async def list_deliveries(
    webhook_id: IdPath,
    session: Session,
    principal: OrgAdminPrincipal,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> DeliveryList:
    found = await service.list_deliveries(
        session=session, principal=principal, endpoint_id=webhook_id, limit=limit
    )
    return DeliveryList(data=[delivery_object(delivery) for delivery in found])
