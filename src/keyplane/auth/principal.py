"""Who is calling: a management key, an inference key, or a logged-in user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keyplane.models import ApiKey
from keyplane.models.membership import ADMIN_ROLES

PrincipalKind = Literal["management_key", "inference_key", "user"]


@dataclass(slots=True)
class Principal:
    kind: PrincipalKind
    user_id: str | None
    org_id: str | None = None
    role: str | None = None
    api_key: ApiKey | None = None
    ip_address: str | None = None

    @property
    def is_admin(self) -> bool:
        """Owner or admin of the org the principal acts in."""
        return self.role in ADMIN_ROLES

    @property
    def is_org_reach(self) -> bool:
        """A key that may act on everything of its org, not only its creator's own objects."""
        return self.api_key is not None and self.api_key.reach == "org"

    @property
    def actor_type(self) -> str:
        return "user" if self.kind == "user" else "api_key"

    @property
    def actor_id(self) -> str:
        if self.api_key is not None:
            return self.api_key.hash
        return self.user_id or ""

    def require_key(self) -> ApiKey:
        assert self.api_key is not None, "principal has no key"
        return self.api_key

    def require_org(self) -> str:
        assert self.org_id is not None, "principal has no org"
        return self.org_id

    def has_scope(self, scope: str) -> bool:
        """Management keys with no scopes listed hold every scope; listed scopes are exact."""
        if self.api_key is None:
            return self.kind == "user"
        scopes = self.api_key.scopes or []
        return not scopes or scope in scopes or "*" in scopes
