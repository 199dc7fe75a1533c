"""Portal management-key inputs (seed 002): Unix-second expiry (0 = never), keyplane's scope names.

An unknown field is a 400 naming it: a mistyped field must not be dropped silently.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from keyplane.errors import BadRequest
from keyplane.keys.rotation import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
from keyplane.keys.schemas import OwnKeyCreate, OwnKeyUpdate
from keyplane.models.base import utcnow

MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z


def expiry_from_unix(value: int) -> datetime | None:
    """0 means never; anything else must be a Unix second in the future."""
    if value == 0:
        return None
    if not 0 < value <= MAX_UNIX_SECONDS:
        raise BadRequest("expires_at must be 0 (never) or a Unix timestamp in seconds")
    expires_at = datetime.fromtimestamp(value, UTC)
    if expires_at <= utcnow():
        raise BadRequest("expires_at must be in the future (or 0 for never)")
    return expires_at


class PortalKeyCreate(BaseModel):
    """Omitting org_id makes a personal key in the user's first org; org_id asks for an org-level key."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr = Field(max_length=10_000)
    description: StrictStr = Field(default="", max_length=10_000)
    expires_at: StrictInt = 0
    scopes: list[StrictStr] | None = Field(default=None, max_length=1000)
    org_id: StrictStr | None = Field(default=None, max_length=64)

    def to_create(self) -> OwnKeyCreate:
        return OwnKeyCreate(
            name=self.name,
            description=self.description,
            expires_at=expiry_from_unix(self.expires_at),
            scopes=self.scopes,
            org_id=self.org_id,
        )


class PortalKeyUpdate(BaseModel):
    """Only the fields sent change; null is refused for each of them."""

    model_config = ConfigDict(extra="forbid")

    name: StrictStr | None = Field(default=None, max_length=10_000)
    description: StrictStr | None = Field(default=None, max_length=10_000)
    expires_at: StrictInt | None = None
    scopes: list[StrictStr] | None = Field(default=None, max_length=1000)

    def to_update(self) -> OwnKeyUpdate:
        sent = self.model_fields_set
        for field in sent:
            if getattr(self, field) is None:
                raise BadRequest(f"{field} must not be null")
        data: dict[str, object] = {field: getattr(self, field) for field in sent}
        if self.expires_at is not None:
            data["expires_at"] = expiry_from_unix(self.expires_at)
        return OwnKeyUpdate.model_validate(data)


class PortalKeyRef(BaseModel):
    """The revoke/restore body: keyplane's choice, the source does not show it."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(max_length=64)


class PortalKeyRotate(BaseModel):
    """The rotate body: the key, and how long its old secret keeps working (default 1 hour)."""

    model_config = ConfigDict(extra="forbid")

    id: StrictStr = Field(max_length=64)
    grace_seconds: StrictInt = Field(default=DEFAULT_GRACE_SECONDS, ge=0, le=MAX_GRACE_SECONDS)
