"""The API's answers as TypedDicts: the decoded JSON itself, typed, so nothing is lost or reshaped.

Money is in USD (floats), times are ISO 8601 strings as the server wrote them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

BudgetScope = Literal["org", "workspace", "key"]
Reset = Literal["daily", "weekly", "monthly"]
UsageGroupBy = Literal["day", "model", "key", "tag"]
Role = Literal["member", "admin", "owner"]
Preference = Literal["speed", "cost", "balanced"]


# ---- providers -----------------------------------------------------------------------------


class Provider(TypedDict):
    """A provider of the catalog and its effective base URL (GET /api/v1/providers)."""

    name: str
    display_name: str
    api_style: str
    openai_compatible: bool
    default_base_url: str | None
    base_url: str | None
    base_url_overridden: bool
    eu_native: bool
    zero_data_retention: bool
    quantization: bool
    requires_value: bool
    config_field: str | None


class EnvVar(TypedDict):
    """A secret or config field as the server shows it: redacted literal or `env.NAME` reference."""

    value: str
    env_var: str
    from_env: bool


class Credential(TypedDict):
    """A provider credential (Bifrost's key object); a platform key shown to tenants: the first five."""

    id: str
    name: str
    models: list[str]
    provider: str
    platform: bool
    value: NotRequired[EnvVar | None]
    blacklisted_models: NotRequired[list[str]]
    weight: NotRequired[float]
    aliases: NotRequired[dict[str, str]]
    enabled: NotRequired[bool]
    use_for_batch_api: NotRequired[bool]
    config_hash: NotRequired[str]
    status: NotRequired[str]
    description: NotRequired[str]
    discovered_models: NotRequired[list[str]]
    azure_key_config: NotRequired[dict[str, Any]]
    vertex_key_config: NotRequired[dict[str, Any]]
    bedrock_key_config: NotRequired[dict[str, Any]]
    vllm_key_config: NotRequired[dict[str, Any]]
    ollama_key_config: NotRequired[dict[str, Any]]
    sgl_key_config: NotRequired[dict[str, Any]]
    replicate_key_config: NotRequired[dict[str, Any]]


# ---- usage ---------------------------------------------------------------------------------


class UsageRecord(TypedDict):
    id: int
    request_id: str
    created_at: str
    key_hash: str | None
    user_id: str | None
    workspace_id: str
    model: str
    provider: str
    is_byok: bool
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int
    cost: float
    latency_ms: int
    status_code: int
    streamed: bool
    error: str | None
    tags: NotRequired[list[str] | None]


class Pagination(TypedDict):
    page: int
    page_size: int
    has_more: bool
    total: NotRequired[int]


class UsagePage(TypedDict):
    data: list[UsageRecord]
    pagination: Pagination


class UsageGroup(TypedDict):
    """Sums of one day, model, key or tag; which of the first fields are present follows `group_by`."""

    day: NotRequired[str]
    model: NotRequired[str]
    tag: NotRequired[str]
    key_hash: NotRequired[str | None]
    key_name: NotRequired[str | None]
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int
    cost: float
    byok_cost: float


# ---- billing -------------------------------------------------------------------------------


class Budget(TypedDict):
    id: str
    scope: BudgetScope
    workspace_id: str | None
    key_hash: str | None
    name: str | None
    limit: float
    reset: Reset | None
    include_byok: bool
    spend: float
    remaining: float
    resets_at: str | None
    created_at: str


class Price(TypedDict):
    """USD per million tokens; `source` says whether it is a built-in default or the operator's."""

    model: str
    input: float
    output: float
    cached: float
    unit: str
    source: Literal["default", "operator"]


class ExchangeRate(TypedDict):
    currency_code: str
    base_currency: str
    rate: float
    updated_at: str


class Balance(TypedDict):
    balance: float
    currency: str
    balance_base: float
    base_currency: str
    user_id: str | None
    total_credits: float
    total_usage: float


class LedgerEntry(TypedDict):
    id: int
    amount: float
    currency: str
    kind: str
    note: str
    user_id: str | None
    actor: str
    created_at: str


class CreditEntry(LedgerEntry):
    """A credit just added, with the org's balance after it."""

    balance: float


class Credits(TypedDict):
    """OpenRouter's GET /credits: every credit ever added and every cost ever charged, in USD."""

    total_credits: float
    total_usage: float


# ---- orgs ----------------------------------------------------------------------------------


class Organization(TypedDict):
    """The caller's org (GET /api/v1/organizations/current); `role` is the key creator's."""

    id: str
    name: str
    default_workspace_id: str
    base_currency: str
    role: str | None
    created_at: str
    updated_at: str


class Workspace(TypedDict):
    id: str
    name: str
    is_default: bool
    created_at: str


class Member(TypedDict):
    user_id: str
    email: str
    name: str
    role: str
    created_at: str


class Invitation(TypedDict):
    id: str
    org_id: str
    email: str
    role: str
    expires_at: str
    created_at: str
    token: NotRequired[str | None]


class InferenceConfig(TypedDict):
    allowed_providers: list[str]
    eu_native: bool
    allow_quantization: bool
    allow_zero_data_retention: bool
    enable_model_fallback: bool
    preference: Preference | None
    max_tokens: int | None


class ProjectConfig(TypedDict):
    """Cortecs's field names: `_id` is the config's id, `project_id` the workspace's."""

    _id: str
    project_id: str
    inference_config: InferenceConfig
    allow_overwrite: bool
    created_at: str
    updated_at: str


# ---- audit ---------------------------------------------------------------------------------


class AuditEvent(TypedDict):
    id: int
    created_at: str
    actor_type: str
    actor_id: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    ip_address: str | None


class AuditPage(TypedDict):
    data: list[AuditEvent]
    pagination: Pagination


# ---- arguments -----------------------------------------------------------------------------


class UsageFilterArgs(TypedDict, total=False):
    """Filters of every usage read: `start` inclusive, `end` exclusive (UTC without offset); None: any."""

    start: datetime | str | None
    end: datetime | str | None
    key_hash: str | None
    user_id: str | None
    workspace_id: str | None
    model: str | None
    org_id: str | None
    tag: str | None


class CredentialChanges(TypedDict, total=False):
    """Fields of a credential to change; `config` entries merge into the provider's block."""

    name: str
    value: str | dict[str, Any]
    models: list[str]
    blacklisted_models: list[str]
    aliases: dict[str, str]
    weight: float
    enabled: bool
    config: dict[str, Any]


class InferenceConfigChanges(TypedDict, total=False):
    """Inference-config fields to set; the others keep their value."""

    allowed_providers: list[str]
    eu_native: bool
    allow_quantization: bool
    allow_zero_data_retention: bool
    enable_model_fallback: bool
    preference: Preference | None
    max_tokens: int | None


WebhookEvent = Literal["budget.threshold"]


class Webhook(TypedDict):
    """An endpoint receiving signed events (Standard Webhooks); the secret is never listed."""

    id: str
    url: str
    events: list[WebhookEvent]
    description: str
    created_at: str


class CreatedWebhook(TypedDict):
    data: Webhook
    secret: str  # whsec_...: verify deliveries with it; shown only in this answer


class WebhookDelivery(TypedDict):
    id: str
    event_type: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    payload: dict[str, Any]
