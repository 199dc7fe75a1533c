"""Who is calling: a management key, an inference key, a logged-in user, or the local system."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from keyplane.models import ApiKey
from keyplane.models.membership import ADMIN_ROLES

PrincipalKind = Literal["management_key", "inference_key", "user", "system"]


@dataclass(slots=True)
class Principal:
    """The caller of one request. `is_operator` is set at authentication: its org runs the platform."""

    kind: PrincipalKind
    user_id: str | None
    org_id: str | None = None
    role: str | None = None
    api_key: ApiKey | None = None
    ip_address: str | None = None
    is_operator: bool = False

    @property
    def is_system(self) -> bool:
        """The local operator acting in-process (CLI, bootstrap, rotation), never a request."""
        return self.kind == "system"

    @property
    def is_admin(self) -> bool:
        """Owner or admin of the org the principal acts in; a personal (user-reach) key never is."""
        if self.api_key is not None and self.api_key.reach != "org":
            return False
        return self.is_system or self.role in ADMIN_ROLES

    @property
    def is_operator_admin(self) -> bool:
        """An owner or admin of the operator org: may change what is global to the platform."""
        return self.is_system or (self.is_operator and self.role in ADMIN_ROLES)

    @property
    def is_org_reach(self) -> bool:
        """A key that may act on everything of its org: an org-level key whose creator is admin now."""
        return self.api_key is not None and self.api_key.reach == "org" and self.role in ADMIN_ROLES

    @property
    def actor_type(self) -> str:
        if self.is_system:
            return "system"
        return "user" if self.kind == "user" else "api_key"

    @property
    def actor_id(self) -> str:
        if self.is_system:
            return "cli"
        if self.api_key is not None:
            return self.api_key.hash
        return self.user_id or ""

    def require_key(self) -> ApiKey:
        assert self.api_key is not None, "principal has no key"
        return self.api_key

    def require_org(self) -> str:
        assert self.org_id is not None, "principal has no org"
        return self.org_id

    def acting_in(self, org_id: str, role: str | None = None) -> Principal:
        """The same caller acting inside one org (the system principal keeps every power)."""
        return Principal(
            kind=self.kind,
            user_id=self.user_id,
            org_id=org_id,
            role="owner" if self.is_system else role,
            api_key=self.api_key,
            ip_address=self.ip_address,
            is_operator=self.is_operator,
        )

    def has_scope(self, scope: str) -> bool:
        """Management keys with no scopes listed hold every scope; listed scopes are exact."""
        if self.api_key is None:
            return self.kind in ("user", "system")
        scopes = self.api_key.scopes or []
        return not scopes or scope in scopes or "*" in scopes


# The local operator: CLI commands that work on the database directly, bootstrap, secret rotation.
SYSTEM = Principal(kind="system", user_id=None, role="owner", is_operator=True)
