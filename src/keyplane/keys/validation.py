"""Input rules for key fields, shared by every surface that creates or changes keys."""

from __future__ import annotations

from datetime import UTC, datetime

from keyplane.auth.client_address import MAX_ALLOWLIST, parse_allowlist
from keyplane.errors import BadRequest
from keyplane.kernel.money import MAX_USD, is_valid_amount
from keyplane.kernel.scopes import ALL_SCOPES
from keyplane.kernel.tags import clean_tags
from keyplane.models.api_key import LIMIT_RESETS
from keyplane.models.base import utcnow

MAX_NAME_LENGTH = 256
MAX_DESCRIPTION_LENGTH = 500
MAX_SCOPES = 32  # room for every scope keyplane defines (auth.scopes.ALL_SCOPES)
MAX_SCOPE_LENGTH = 50


def clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise BadRequest("name must not be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise BadRequest(f"name must be at most {MAX_NAME_LENGTH} characters")
    if any(ord(ch) < 32 for ch in cleaned):
        raise BadRequest("name must not contain control characters")
    return cleaned


def check_limit(limit_usd: float | None) -> None:
    if limit_usd is not None and not is_valid_amount(limit_usd):
        raise BadRequest(f"limit must be a number between 0 and {MAX_USD:.0f} USD")


def check_limit_reset(limit_reset: str | None) -> None:
    if limit_reset is not None and limit_reset not in LIMIT_RESETS:
        raise BadRequest("limit_reset must be one of daily, weekly, monthly or null")


def check_expiry(expires_at: datetime | None) -> datetime | None:
    """Expiry must be a UTC instant in the future; a naive timestamp is read as UTC."""
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        expires_at = expires_at.replace(tzinfo=UTC)
    elif expires_at.utcoffset() != UTC.utcoffset(None):
        raise BadRequest("expires_at must be a UTC timestamp (Z or +00:00)")
    if expires_at <= utcnow():
        raise BadRequest("expires_at must be in the future")
    return expires_at


def check_description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise BadRequest(f"description must be at most {MAX_DESCRIPTION_LENGTH} characters")
    return description


def check_scopes(scopes: list[str]) -> list[str]:
    if len(scopes) > MAX_SCOPES:
        raise BadRequest(f"at most {MAX_SCOPES} scopes are allowed")
    for scope in scopes:
        if not 1 <= len(scope) <= MAX_SCOPE_LENGTH:
            raise BadRequest(f"each scope must be 1-{MAX_SCOPE_LENGTH} characters")
    return list(dict.fromkeys(scopes))


MAX_ALLOWED_MODELS = 1000
MAX_MODEL_NAME = 256


def clean_allowed_models(models: list[str] | None) -> list[str] | None:
    """Trimmed, deduplicated names; None (or an empty list, stored as None) allows every model."""
    if models is None:
        return None
    if len(models) > MAX_ALLOWED_MODELS:
        raise BadRequest(f"allowed_models may list at most {MAX_ALLOWED_MODELS} models")
    cleaned: list[str] = []
    for raw in models:
        name = raw.strip()
        if not 1 <= len(name) <= MAX_MODEL_NAME or any(ord(c) < 32 or ord(c) == 127 for c in name):
            raise BadRequest(
                f"each of allowed_models must be a model name of 1-{MAX_MODEL_NAME} printable characters"
            )
        if name not in cleaned:
            cleaned.append(name)
    return cleaned or None


def check_rate_limit(value: int | None, field: str) -> None:
    if value is not None and not 1 <= value <= 10_000_000:
        raise BadRequest(f"{field} must be between 1 and 10000000")


def check_known_scopes(scopes: list[str]) -> list[str]:
    """Scopes from keyplane's vocabulary only (auth.scopes.ALL_SCOPES), deduplicated."""
    cleaned = check_scopes(scopes)
    for scope in cleaned:
        if scope not in ALL_SCOPES:
            raise BadRequest(
                f"Unknown scope '{scope}'; known scopes: {', '.join(ALL_SCOPES)}", code="unknown_scope"
            )
    return cleaned


def clean_allowed_ips(entries: list[str] | None) -> list[str] | None:
    """Canonical CIDRs the gateway serves; None allows any client (an empty list would allow none)."""
    if entries is None:
        return None
    if len(entries) > MAX_ALLOWLIST:
        raise BadRequest(f"allowed_ips may list at most {MAX_ALLOWLIST} entries", code="invalid_allowed_ips")
    try:
        networks = parse_allowlist(entries)
    except ValueError as exc:
        raise BadRequest(f"allowed_ips: {exc}", code="invalid_allowed_ips") from None
    if not networks:
        raise BadRequest("allowed_ips must list at least one address or CIDR, or be null for any")
    return [str(network) for network in networks]


def clean_key_tags(tags: list[str] | None) -> list[str] | None:
    """A key's default tags under the header's rule (kernel.tags); an empty list is stored as None."""
    if tags is None:
        return None
    return list(clean_tags(tags, source="tags")) or None


MAX_CONCURRENCY = 100_000


def check_max_concurrency(value: int | None) -> None:
    if value is not None and not 1 <= value <= MAX_CONCURRENCY:
        raise BadRequest(f"max_concurrency must be between 1 and {MAX_CONCURRENCY}")
