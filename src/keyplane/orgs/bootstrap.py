"""First-run setup: the first org, its owner and its first management key, exactly once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.config import DEFAULT_MAX_KEYS_PER_ORG
from keyplane.kernel.principal import SYSTEM, Principal
from keyplane.keys.schemas import KeyCreate
from keyplane.keys.service import create_key
from keyplane.orgs.service import add_member, create_organization, create_user


@dataclass(frozen=True)
class BootstrapResult:
    org_id: str
    workspace_id: str
    user_id: str
    email: str
    management_key: str
    management_key_hash: str


async def bootstrap(*, session: AsyncSession, org_name: str, email: str, password: str) -> BootstrapResult:
    org, workspace = await create_organization(session=session, name=org_name)
    user = await create_user(session=session, email=email, password=password, name="Owner")
    await add_member(session=session, org_id=org.id, user_id=user.id, role="owner")
    owner = Principal(kind="user", user_id=user.id, org_id=org.id, role="owner")
    key, plaintext = await create_key(
        session=session,
        principal=owner,
        params=KeyCreate(name="bootstrap management key", kind="management", reach="org"),
        default_org_cap=DEFAULT_MAX_KEYS_PER_ORG,  # a new org's first key: any cap admits it
    )
    await audit.record(session, SYSTEM, "org.initialized", org)
    return BootstrapResult(
        org_id=org.id,
        workspace_id=workspace.id,
        user_id=user.id,
        email=user.email,
        management_key=plaintext,
        management_key_hash=key.hash,
    )
