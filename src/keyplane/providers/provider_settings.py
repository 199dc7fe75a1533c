"""Platform-level provider settings: a base URL override points a provider at any compatible server.

Only an owner/admin of the operator org may set one: a base URL decides where every org's
requests (and the platform's credentials) are sent.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest
from keyplane.kernel.permissions import require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.writes import upsert
from keyplane.models import ProviderSetting
from keyplane.models.base import utcnow
from keyplane.providers.catalog import ProviderInfo


def check_base_url(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("base_url must be an absolute http(s) URL")
    if parts.username or parts.password:
        raise BadRequest("base_url must not carry credentials; put them in a key's value")
    if parts.query or parts.fragment:
        raise BadRequest("base_url must not have a query or fragment")
    return url


async def put_setting(
    *, session: AsyncSession, principal: Principal, info: ProviderInfo, base_url: str | None
) -> ProviderSetting:
    require_operator_admin(principal, "Provider settings")
    url = check_base_url(base_url)
    values: dict[str, Any] = {"provider": info.name, "base_url": url, "extra": {}, "updated_at": utcnow()}
    await upsert(session, ProviderSetting, values, key=["provider"], keep=["extra"])
    setting = await session.get(ProviderSetting, info.name, populate_existing=True)
    assert setting is not None
    await audit.record(
        session,
        principal,
        "provider_setting.updated",
        audit.Target("provider_setting", info.name, principal.org_id),
        base_url=url,
    )
    return setting


async def base_url_overrides(*, session: AsyncSession) -> dict[str, str | None]:
    """Every provider's operator-set base URL (global, like the catalog), by provider name."""
    rows = (await session.execute(select(ProviderSetting))).scalars().all()
    return {row.provider: row.base_url for row in rows}
