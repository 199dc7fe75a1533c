"""Reads of an org's memberships and invitations, always within the org."""

from __future__ import annotations

from keyplane.kernel.repository import OrgRepository
from keyplane.models import Invitation, Membership


class MembershipRepository(OrgRepository[Membership]):
    model = Membership
    not_found = "Member not found"


class InvitationRepository(OrgRepository[Invitation]):
    model = Invitation
    not_found = "Invitation not found"
