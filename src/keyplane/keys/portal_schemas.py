"""Portal management-key inputs (seed 002): Unix-second expiry, scopes from keyplane's vocabulary."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

PORTAL_NAME_MAX = 100


class PortalKeyCreate(BaseModel):
    """Omitting org_id makes a personal key in the user's first org; org_id asks for an org-level key."""

    model_config = ConfigDict(extra="ignore")

    name: StrictStr = Field(max_length=10_000)
    description: StrictStr = Field(default="", max_length=10_000)
    expires_at: StrictInt = 0
    scopes: list[StrictStr] | None = Field(default=None, max_length=1000)
    org_id: StrictStr | None = Field(default=None, max_length=64)


class PortalKeyUpdate(BaseModel):
    """Only the fields sent change; null is refused for each of them."""

    model_config = ConfigDict(extra="ignore")

    name: StrictStr | None = Field(default=None, max_length=10_000)
    description: StrictStr | None = Field(default=None, max_length=10_000)
    expires_at: StrictInt | None = None
    scopes: list[StrictStr] | None = Field(default=None, max_length=1000)


class PortalKeyRef(BaseModel):
    """The revoke/restore body: keyplane's choice, the source does not show it."""

    model_config = ConfigDict(extra="ignore")

    id: StrictStr = Field(max_length=64)
