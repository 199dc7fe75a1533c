"""All tables, imported together so metadata is complete for Alembic and create_all."""

from keyplane.models.api_key import ApiKey
from keyplane.models.audit_event import AuditEvent
from keyplane.models.base import Base
from keyplane.models.budget import Budget
from keyplane.models.exchange_rate import ExchangeRate
from keyplane.models.invitation import Invitation
from keyplane.models.ledger_entry import LedgerEntry
from keyplane.models.membership import Membership
from keyplane.models.model_price import ModelPrice
from keyplane.models.organization import Organization
from keyplane.models.project_config import ProjectConfig
from keyplane.models.provider_credential import ProviderCredential
from keyplane.models.provider_setting import ProviderSetting
from keyplane.models.spend_counter import SpendCounter
from keyplane.models.usage_record import UsageRecord
from keyplane.models.usage_record_tag import UsageRecordTag
from keyplane.models.usage_rollup import UsageRollup
from keyplane.models.user import User
from keyplane.models.webhook import WebhookDelivery, WebhookEndpoint
from keyplane.models.workspace import Workspace

__all__ = [
    "ApiKey",
    "AuditEvent",
    "Base",
    "Budget",
    "ExchangeRate",
    "Invitation",
    "LedgerEntry",
    "Membership",
    "ModelPrice",
    "Organization",
    "ProjectConfig",
    "ProviderCredential",
    "ProviderSetting",
    "SpendCounter",
    "UsageRecord",
    "UsageRecordTag",
    "UsageRollup",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Workspace",
]
