"""Scopes a management key may carry; a key with no scopes listed holds all of them."""

from __future__ import annotations

from keyplane.errors import Forbidden
from keyplane.kernel.principal import Principal

BALANCE_READ = "balance:read"
USAGE_READ = "usage:read"
KEYS_READ = "keys:read"
KEYS_WRITE = "keys:write"
PROVIDERS_READ = "providers:read"
PROVIDERS_WRITE = "providers:write"
SETTINGS_READ = "settings:read"
SETTINGS_WRITE = "settings:write"
BILLING_WRITE = "billing:write"
AUDIT_READ = "audit:read"
ORGS_READ = "orgs:read"
ORGS_WRITE = "orgs:write"

ALL_SCOPES = (
    BALANCE_READ,
    USAGE_READ,
    KEYS_READ,
    KEYS_WRITE,
    PROVIDERS_READ,
    PROVIDERS_WRITE,
    SETTINGS_READ,
    SETTINGS_WRITE,
    BILLING_WRITE,
    AUDIT_READ,
    ORGS_READ,
    ORGS_WRITE,
)


def require_scope(principal: Principal, scope: str) -> None:
    if not principal.has_scope(scope):
        raise Forbidden(f"This key lacks the '{scope}' scope", code="missing_scope")
