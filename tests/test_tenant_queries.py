"""No read of a tenant table skips the org filter: it goes through an OrgRepository, or is reviewed.

The lint walks src/keyplane for `select(<TenantModel>...)`, `.select_from(<TenantModel>)` and
`session.get(<TenantModel>, ...)` outside OrgRepository subclasses. Each remaining (file, model)
pair is on ALLOWED with the reason it may read without the caller's org; the list must match the
code exactly, so a new unfiltered read fails here and a moved one must leave the list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

import keyplane
from keyplane.billing.budgets import BudgetRepository
from keyplane.errors import NotFound
from keyplane.models import Budget, ProviderCredential, Workspace
from keyplane.models.base import Base
from keyplane.orgs.repository import MembershipRepository
from keyplane.orgs.service import create_organization
from keyplane.providers.repository import CredentialRepository
from keyplane.workspaces.repository import WorkspaceRepository

ROOT = Path(keyplane.__file__).parent

TENANT_MODELS = {
    "ApiKey",
    "AuditEvent",
    "Budget",
    "Invitation",
    "LedgerEntry",
    "Membership",
    "ProjectConfig",  # tenant through its workspace
    "ProviderCredential",  # an org's, or the platform's (org_id NULL)
    "SpendCounter",  # keyed by a subject naming an org's key or budget
    "UsageRecord",
    "UsageRecordTag",
    "UsageRollup",
    "WebhookDelivery",
    "WebhookEndpoint",
    "Workspace",
}

ALLOWED: dict[tuple[str, str], str] = {
    # authentication: the caller is not known yet, the key or token hash is the lookup
    ("auth/service.py", "ApiKey"): "authentication by key hash, before any org is known",
    ("auth/service.py", "Membership"): "a user session's memberships by user id (login picks the org)",
    (
        "orgs/invitations.py",
        "Invitation",
    ): "accepting an invitation: found by its token hash, unauthenticated",
    (
        "orgs/service.py",
        "Membership",
    ): "a user's memberships across orgs (who the person is, not an org read)",
    # the operator's cross-org reads, refused to anyone but the operator's admins first
    ("orgs/tenants.py", "Workspace"): "the operator lists every org with its default workspace",
    (
        "providers/discovery_schedule.py",
        "ProviderCredential",
    ): "the scheduled model discovery of every org's wildcard credentials (system task)",
    (
        "providers/rotation.py",
        "ProviderCredential",
    ): "re-encrypting every credential under a new secret key (CLI)",
    (
        "providers/service.py",
        "ProviderCredential",
    ): "name/id uniqueness: within own+platform, across all orgs for a platform credential",
    # a user's own keys across the orgs they belong to now (who the person is, not an org read)
    ("keys/own_keys.py", "ApiKey"): "the user's management keys, joined to their current memberships",
    ("keys/own_keys.py", "Membership"): "the user's memberships: the org a new personal key goes to",
    ("orgs/user_orgs.py", "Membership"): "a dashboard user's memberships by user id (the org switcher)",
    # the gateway hot path: the key was authenticated by hash, its org comes with it; these reads
    # build the per-key snapshot once per cache fill, filtered by that org in the statement
    ("gateway/snapshot.py", "Budget"): "the authenticated key's budgets, by its org",
    ("gateway/snapshot.py", "ProjectConfig"): "the authenticated key's own workspace config",
    (
        "gateway/spend_reservations.py",
        "UsageRollup",
    ): "a limit counter's seed, by the subject's org",
    (
        "gateway/crash_recovery.py",
        "UsageRecord",
    ): "a killed process's journaled requests, by their own request ids, to skip what is written",
    (
        "providers/eligibility.py",
        "ProviderCredential",
    ): "routing: the key's org's and platform credentials",
    # webhooks: system tasks over every org's outbox, and the flush's own counters
    (
        "webhooks/subscriptions.py",
        "WebhookEndpoint",
    ): "which orgs subscribe to an event (org ids only), so the usage flusher skips the others",
    (
        "webhooks/dispatcher.py",
        "WebhookDelivery",
    ): "the dispatcher claims every org's due deliveries (system task)",
    (
        "webhooks/dispatcher.py",
        "WebhookEndpoint",
    ): "the claimed deliveries' own endpoints (URL and secret), joined by endpoint id",
    (
        "webhooks/rotation.py",
        "WebhookEndpoint",
    ): "re-encrypting every webhook signing secret under a new secret key (CLI)",
    (
        "webhooks/alerts.py",
        "SpendCounter",
    ): "the counters this flush just charged, by subject and window, to see what it crossed",
}


class _TenantReads(ast.NodeVisitor):
    """Collects the tenant models a module reads outside OrgRepository subclasses."""

    def __init__(self) -> None:
        self.in_repository: list[bool] = []
        self.found: set[str] = set()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.in_repository.append(any("OrgRepository" in ast.unparse(base) for base in node.bases))
        self.generic_visit(node)
        self.in_repository.pop()

    def visit_Call(self, node: ast.Call) -> None:
        if not any(self.in_repository):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            if name in ("select", "select_from"):
                for argument in node.args:
                    self.found.update(
                        n.id for n in ast.walk(argument) if isinstance(n, ast.Name) and n.id in TENANT_MODELS
                    )
            elif name == "get" and isinstance(func, ast.Attribute) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Name) and first.id in TENANT_MODELS:
                    self.found.add(first.id)
        self.generic_visit(node)


def tenant_reads(source: str) -> set[str]:
    visitor = _TenantReads()
    visitor.visit(ast.parse(source))
    return visitor.found


def unfiltered_reads() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("migrations/"):
            continue  # migrations run once, before any tenant exists in the new schema
        found.update((relative, model) for model in tenant_reads(path.read_text()))
    return found


def test_every_tenant_read_goes_through_a_repository_or_is_reviewed() -> None:
    unreviewed = sorted(unfiltered_reads() - ALLOWED.keys())
    assert not unreviewed, f"read these through an OrgRepository (or review and list them): {unreviewed}"


def test_the_reviewed_list_names_only_reads_that_still_exist() -> None:
    stale = sorted(ALLOWED.keys() - unfiltered_reads())
    assert not stale, f"these reads moved to a repository: drop them from ALLOWED: {stale}"


def test_every_table_with_an_org_id_is_a_tenant_table() -> None:
    with_org = {mapper.class_.__name__ for mapper in Base.registry.mappers if "org_id" in mapper.columns}
    assert with_org <= TENANT_MODELS


def test_the_lint_sees_reads_outside_repositories_and_not_inside() -> None:
    outside = "await session.get(Budget, 'x')\nselect(func.count()).select_from(Workspace)\n"
    inside = "class Budgets(OrgRepository[Budget]):\n    def q(self):\n        return select(Budget)\n"
    assert tenant_reads(outside) == {"Budget", "Workspace"}
    assert tenant_reads("select(ApiKey.hash).where(ApiKey.id == k)") == {"ApiKey"}
    assert tenant_reads(inside) == set()


async def test_a_repository_never_returns_another_orgs_row(session: AsyncSession) -> None:
    mine, my_workspace = await create_organization(session=session, name="mine")
    theirs, their_workspace = await create_organization(session=session, name="theirs")
    their_budget = Budget(org_id=theirs.id, scope="org", limit_nanousd=1, reset="monthly")
    session.add(their_budget)
    await session.flush()

    with pytest.raises(NotFound, match="Budget not found"):
        await BudgetRepository(session, mine.id).get_by_id(their_budget.id)
    assert (await BudgetRepository(session, theirs.id).get_by_id(their_budget.id)) is their_budget
    workspaces = WorkspaceRepository(session, mine.id)
    with pytest.raises(NotFound, match="Workspace not found"):
        await workspaces.get_by_id(their_workspace.id)
    assert [w.id for w in await workspaces.list(workspaces.select().where(Workspace.is_default))] == [
        my_workspace.id
    ]
    assert await workspaces.count() == 1
    assert await MembershipRepository(session, mine.id).count() == 0


async def test_credentials_show_the_platform_rows_only_when_asked(session: AsyncSession) -> None:
    mine, _ = await create_organization(session=session, name="mine")
    theirs, _ = await create_organization(session=session, name="theirs")
    for org_id, name in ((mine.id, "own"), (theirs.id, "other"), (None, "platform")):
        session.add(ProviderCredential(org_id=org_id, provider="openai", name=name, id=name))
    await session.flush()

    with_platform = CredentialRepository(session, mine.id, show_platform=True)
    assert sorted(c.name for c in await with_platform.list()) == ["own", "platform"]
    assert [c.name for c in await CredentialRepository(session, mine.id, show_platform=False).list()] == [
        "own"
    ]
