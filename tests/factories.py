"""Typed factories for test data, built through the real services."""

from __future__ import annotations

from keyplane.context import AppContext
from keyplane.db import session_scope
from keyplane.kernel.principal import Principal
from keyplane.keys.schemas import KeyCreate
from keyplane.keys.service import create_key
from keyplane.orgs.bootstrap import BootstrapResult, bootstrap
from keyplane.orgs.service import add_member, create_organization, create_user

DEFAULT_PASSWORD = "correct-horse-battery"


async def bootstrap_org(
    context: AppContext, *, name: str = "Acme", email: str = "owner@acme.test"
) -> BootstrapResult:
    async with session_scope(context.sessions) as session:
        return await bootstrap(session=session, org_name=name, email=email, password=DEFAULT_PASSWORD)


async def add_user(context: AppContext, *, org_id: str, email: str, role: str = "member") -> str:
    """A new user who is a member of the org with the given role; returns the user id."""
    async with session_scope(context.sessions) as session:
        user = await create_user(session=session, email=email, password=DEFAULT_PASSWORD)
        await add_member(session=session, org_id=org_id, user_id=user.id, role=role)
        return user.id


async def make_key(
    context: AppContext,
    *,
    org_id: str,
    user_id: str,
    role: str = "owner",
    kind: str = "inference",
    name: str = "test key",
    limit_usd: float | None = None,
    limit_reset: str | None = None,
    reach: str = "org",
    scopes: list[str] | None = None,
) -> str:
    """Create a key as the given member and return its plaintext."""
    principal = Principal(kind="user", user_id=user_id, org_id=org_id, role=role)
    async with session_scope(context.sessions) as session:
        _key, plaintext = await create_key(
            session=session,
            principal=principal,
            params=KeyCreate(
                name=name,
                kind=kind,
                limit_usd=limit_usd,
                limit_reset=limit_reset,
                reach=reach,
                scopes=scopes or [],
            ),
            default_org_cap=context.settings.max_keys_per_org,
        )
        return plaintext


async def make_org(context: AppContext, *, name: str, email: str) -> BootstrapResult:
    """A second tenant, to prove isolation."""
    async with session_scope(context.sessions) as session:
        org, _workspace = await create_organization(session=session, name=name)
        user = await create_user(session=session, email=email, password=DEFAULT_PASSWORD)
        await add_member(session=session, org_id=org.id, user_id=user.id, role="owner")
    async with session_scope(context.sessions) as session:
        from sqlalchemy import select

        from keyplane.models import Workspace

        workspace_id = (
            await session.execute(select(Workspace.id).where(Workspace.org_id == org.id))
        ).scalar_one()
    plaintext = await make_key(context, org_id=org.id, user_id=user.id, kind="management", name="mgmt")
    from keyplane.auth.tokens import hash_key

    return BootstrapResult(
        org_id=org.id,
        workspace_id=workspace_id,
        user_id=user.id,
        email=email,
        management_key=plaintext,
        management_key_hash=hash_key(plaintext),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
