"""What the webhook services take and give back, shared by the surface, the client and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from keyplane.models import WebhookEndpoint

BUDGET_THRESHOLD = "budget.threshold"
EVENTS = (BUDGET_THRESHOLD,)
THRESHOLDS = (80, 95, 100)  # percent of a limit, a budget or the org's credits in its window
MAX_ENDPOINTS_PER_ORG = 20
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 500


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret, shown this once."""

    endpoint: WebhookEndpoint
    secret: str
