"""What a credential may reach besides its own secrets: environment names and network addresses.

Built once from the settings; `for_owner` gives the rules of one credential's owner: the operator
org and the platform read the allowed environment names and reach any address; tenants read no
environment and reach only what the egress guard lets through.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.service import operator_org_id
from keyplane.config import Settings
from keyplane.kernel.env_refs import NO_ENV, EnvRefPolicy, env_ref_policy
from keyplane.net.egress import PUBLIC_ONLY, EgressPolicy, egress_policy


@dataclass(frozen=True, slots=True)
class ProviderPolicy:
    env_refs: EnvRefPolicy = NO_ENV
    egress: EgressPolicy = PUBLIC_ONLY

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderPolicy:
        return cls(
            env_refs=env_ref_policy(settings.allowed_env_refs),
            egress=egress_policy(settings.allowed_upstream_hosts),
        )


@dataclass(frozen=True, slots=True)
class OwnerRules:
    """The rules for one credential owner: `trusted` is the operator org or the platform."""

    trusted: bool
    env_refs: EnvRefPolicy
    egress: EgressPolicy


def owner_rules(policy: ProviderPolicy, *, trusted: bool) -> OwnerRules:
    return OwnerRules(trusted=trusted, env_refs=policy.env_refs if trusted else NO_ENV, egress=policy.egress)


def is_trusted_owner(org_id: str | None, operator_id: str | None) -> bool:
    """Platform credentials (no org) and the operator org's own are the operator's."""
    return org_id is None or (operator_id is not None and org_id == operator_id)


async def rules_for_owner(session: AsyncSession, policy: ProviderPolicy, org_id: str | None) -> OwnerRules:
    return owner_rules(policy, trusted=is_trusted_owner(org_id, await operator_org_id(session)))
