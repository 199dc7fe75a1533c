"""Reads of the provider credentials an org sees: its own, plus the platform's (org_id NULL)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.kernel.principal import Principal
from keyplane.kernel.repository import OrgRepository
from keyplane.models import ProviderCredential


class CredentialRepository(OrgRepository[ProviderCredential]):
    """The org's credentials; the platform's too when `show_platform` (never another org's)."""

    model = ProviderCredential
    not_found = "Key not found"

    def __init__(self, session: AsyncSession, org_id: str, *, show_platform: bool) -> None:
        super().__init__(session, org_id)
        self.show_platform = show_platform

    @classmethod
    def visible_to(
        cls, session: AsyncSession, principal: Principal, *, show_platform: bool
    ) -> CredentialRepository:
        """Platform credentials are always visible to the operator's admins (they manage them)."""
        return cls(
            session, principal.require_org(), show_platform=show_platform or principal.is_operator_admin
        )

    def readable(self) -> ColumnElement[bool]:
        own = ProviderCredential.org_id == self.org_id
        return or_(own, ProviderCredential.org_id.is_(None)) if self.show_platform else own
