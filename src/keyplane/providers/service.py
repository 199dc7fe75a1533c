"""Provider credential rules: ownership (platform or BYOK), validation, secrets, audit.

An org's management key sees its own org's credentials; it sees the platform's (org_id NULL)
read-only, reduced to name, provider and models, when KEYPLANE_SHOW_PLATFORM_CREDENTIALS is on.
Changing an org's credentials (create, replace, delete, refresh) takes the admin or owner role
with providers:write: they decide where the org's traffic and keys go. Platform credentials are
created and changed by an owner/admin of the operator org (the first organization). Anything else
is a 404, exactly as if it did not exist. Ids are the owner's: unique within an org and apart
from the platform's, so two orgs may each have a key "main".

Where a credential leads is its owner's rules (policy.py): only the operator org and the platform
reference the environment, and a tenant's URLs pass the egress guard.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.audit import service as audit
from keyplane.errors import BadRequest, Conflict, NotFound
from keyplane.kernel.permissions import require_admin, require_operator_admin
from keyplane.kernel.principal import Principal
from keyplane.kernel.scopes import PROVIDERS_WRITE
from keyplane.kernel.writes import delete_once, flush_or_conflict
from keyplane.models import ProviderCredential, ProviderSetting
from keyplane.models.base import new_uuid, utcnow
from keyplane.providers import discovery
from keyplane.providers.catalog import CONFIG_FIELDS, ProviderInfo, get_provider
from keyplane.providers.eligibility import WILDCARD, serves_all_models
from keyplane.providers.fields import ENV_FIELDS, SENSITIVE_FIELDS, public_form, store_field
from keyplane.providers.guards import check_deployment_names, check_targets
from keyplane.providers.policy import OwnerRules, ProviderPolicy, rules_for_owner
from keyplane.providers.repository import CredentialRepository
from keyplane.providers.schemas import MAX_MODEL_CHARS, CredentialIn
from keyplane.providers.secrets import SecretBox
from keyplane.providers.service_account import check_service_account

_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")
MAX_WEIGHT = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Visibility:
    """What the caller may see beyond its own org."""

    show_platform: bool = True


# ---- reading ---------------------------------------------------------------------------------


def _visible(session: AsyncSession, principal: Principal, visibility: Visibility) -> CredentialRepository:
    """Own credentials, plus the platform's when shown to orgs (always to the platform admins)."""
    return CredentialRepository.visible_to(session, principal, show_platform=visibility.show_platform)


def shows_details(principal: Principal, row: ProviderCredential) -> bool:
    """Everything of an org's own credentials; of the platform's only to the operator's admins."""
    return row.org_id is not None or principal.is_operator_admin


async def list_credentials(
    *, session: AsyncSession, principal: Principal, provider: str | None, visibility: Visibility
) -> Sequence[ProviderCredential]:
    repository = _visible(session, principal, visibility)
    query = repository.select()
    if provider is not None:
        get_provider(provider)
        query = query.where(ProviderCredential.provider == provider)
    query = query.order_by(ProviderCredential.provider, ProviderCredential.created_at, ProviderCredential.id)
    return await repository.list(query)


async def get_credential(
    *,
    session: AsyncSession,
    principal: Principal,
    provider: str,
    key_id: str,
    visibility: Visibility,
) -> ProviderCredential:
    get_provider(provider)
    repository = _visible(session, principal, visibility)
    row = await repository.first(
        repository.select().where(ProviderCredential.id == key_id, ProviderCredential.provider == provider)
    )
    if row is None:
        raise NotFound("Key not found", code="key_not_found")
    return row


async def _writable(
    session: AsyncSession, principal: Principal, provider: str, key_id: str, visibility: Visibility
) -> ProviderCredential:
    require_admin(principal, PROVIDERS_WRITE)
    row = await get_credential(
        session=session, principal=principal, provider=provider, key_id=key_id, visibility=visibility
    )
    if row.org_id is None:
        require_operator_admin(principal, "Platform credentials")
    return row


# ---- validation ------------------------------------------------------------------------------


def _model_list(values: list[str], field: str, *, allow_wildcard: bool) -> list[str]:
    cleaned: list[str] = []
    for value in values:
        name = value.strip()
        if not name or len(name) > MAX_MODEL_CHARS:
            raise BadRequest(f"{field}: every model must be 1-{MAX_MODEL_CHARS} characters")
        if name not in cleaned:
            cleaned.append(name)
    if WILDCARD in cleaned:
        if not allow_wildcard:
            raise BadRequest(f"{field}: '*' is not allowed here (disable the key instead)")
        if len(cleaned) > 1:
            raise BadRequest(f"{field}: '*' means every model and cannot be mixed with model names")
    return cleaned


def _aliases(values: dict[str, str]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    for key, target in values.items():
        key, target = key.strip(), target.strip()
        if not key or not target or len(key) > MAX_MODEL_CHARS or len(target) > MAX_MODEL_CHARS:
            raise BadRequest(f"aliases: names and targets must be 1-{MAX_MODEL_CHARS} characters")
        if key == WILDCARD:
            raise BadRequest("aliases: '*' cannot be aliased")
        cleaned[key] = target
    return cleaned


def _weight(value: float) -> float:
    if not math.isfinite(value) or value < 0:
        raise BadRequest("weight must be a number >= 0")
    if value > MAX_WEIGHT:
        raise BadRequest(f"weight must be at most {MAX_WEIGHT:g}")
    return float(value)


def _check_blocks(info: ProviderInfo, body: CredentialIn) -> None:
    for field, owner in CONFIG_FIELDS.items():
        if getattr(body, field) is not None and owner != info.name:
            raise BadRequest(f"{field} is only valid for provider '{owner}', not '{info.name}'")


def _store_config(
    info: ProviderInfo, body: CredentialIn, box: SecretBox, previous: dict[str, Any], rules: OwnerRules
) -> dict[str, Any]:
    """The provider's block with every EnvVar field in stored form (secrets encrypted)."""
    field = info.config_field
    if field is None:
        return {}
    block = getattr(body, field)
    if block is None:
        return {}
    old_block = previous.get(field, {}) if isinstance(previous.get(field), dict) else {}
    stored: dict[str, Any] = {}
    data = block.model_dump(exclude_none=True)
    for name in ENV_FIELDS.get(field, ()):
        value = store_field(
            getattr(block, name),
            field=f"{field}.{name}",
            sensitive=name in SENSITIVE_FIELDS.get(field, frozenset()),
            box=box,
            previous=old_block.get(name),
            rules=rules,
        )
        data.pop(name, None)
        if value is not None:
            stored[name] = value
    stored.update(data)  # plain fields: scopes, model_name, batch_s3_config, use_deployments_endpoint
    return {field: stored}


def _require_config(info: ProviderInfo, config: dict[str, Any], base_url_override: str | None) -> None:
    """The fields a provider cannot work without; the error names the missing one."""
    block = config.get(info.config_field or "", {})
    required: tuple[str, ...] = ()
    if info.name == "azure":
        required = ("endpoint",)
    elif info.name == "vertex":
        required = ("project_id", "region", "auth_credentials")
    elif info.name == "bedrock":
        required = ("region",)
    elif info.name in ("vllm", "sgl") and not base_url_override:
        required = ("url",)
    for name in required:
        if name not in block:
            raise BadRequest(f"{info.config_field}.{name} is required for provider '{info.name}'")
    if info.default_base_url is None and info.config_field is None and not base_url_override:
        # A body has no URL field for such a provider: without the setting nothing could be routed.
        raise BadRequest(
            f"base_url is required for provider '{info.name}': set it first with "
            f'PUT /api/v1/providers/{info.name}/settings {{"base_url": "https://..."}}'
        )


def _require_bedrock_auth(config: dict[str, Any], *, has_value: bool) -> None:
    """Bedrock signs with an access key pair or sends a Bedrock API key (`value`): one, complete."""
    block = config.get("bedrock_key_config", {})
    access, secret = "access_key" in block, "secret_key" in block
    if access and not secret:
        raise BadRequest("bedrock_key_config.secret_key is required with bedrock_key_config.access_key")
    if secret and not access:
        raise BadRequest("bedrock_key_config.access_key is required with bedrock_key_config.secret_key")
    if "session_token" in block and not access:
        raise BadRequest("bedrock_key_config.session_token needs access_key and secret_key")
    if not access and not has_value:
        raise BadRequest(
            "provider 'bedrock' needs bedrock_key_config.access_key and secret_key, "
            "or a Bedrock API key in value"
        )


def _has_entra_auth(config: dict[str, Any]) -> bool:
    block = config.get("azure_key_config", {})
    return all(name in block for name in ("client_id", "client_secret", "tenant_id"))


def config_hash(row: ProviderCredential) -> str:
    """Change detection over the user-visible configuration (never over ciphertext)."""
    config = {
        field: {name: public_form(value) for name, value in block.items()}
        for field, block in (row.config or {}).items()
        if isinstance(block, dict)
    }
    canonical = {
        "provider": row.provider,
        "name": row.name,
        "value": public_form(row.value),
        "models": row.models,
        "blacklisted_models": row.blacklisted_models,
        "weight": row.weight,
        "aliases": row.aliases,
        "config": config,
        "enabled": row.enabled,
        "use_for_batch_api": row.use_for_batch_api,
    }
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


async def _provider_base_url(session: AsyncSession, provider: str) -> str | None:
    setting = await session.get(ProviderSetting, provider)
    return setting.base_url if setting else None


async def _check_name_free(session: AsyncSession, *, name: str, org_id: str | None, exclude_uid: str) -> None:
    """Names are unique among what an org sees: its own credentials and the platform's."""
    query = select(ProviderCredential.uid).where(ProviderCredential.name == name)
    if org_id is not None:
        query = query.where(or_(ProviderCredential.org_id == org_id, ProviderCredential.org_id.is_(None)))
    query = query.where(ProviderCredential.uid != exclude_uid)
    if (await session.execute(query.limit(1))).first() is not None:
        raise Conflict(f"A key named '{name}' already exists", code="duplicate_name")


async def _check_id_free(session: AsyncSession, *, key_id: str, org_id: str | None) -> None:
    """Ids are unique among what an org sees (its own and the platform's); platform ids everywhere."""
    query = select(ProviderCredential.uid).where(ProviderCredential.id == key_id)
    if org_id is not None:
        query = query.where(or_(ProviderCredential.org_id == org_id, ProviderCredential.org_id.is_(None)))
    if (await session.execute(query.limit(1))).first() is not None:
        raise Conflict("A key with this id already exists", code="duplicate_id")


async def _apply(
    session: AsyncSession,
    row: ProviderCredential,
    info: ProviderInfo,
    body: CredentialIn,
    box: SecretBox,
    policy: ProviderPolicy,
) -> None:
    """Validate the whole body and write it onto `row` (PUT semantics: every field replaced)."""
    rules = await rules_for_owner(session, policy, row.org_id)
    _check_blocks(info, body)
    name = body.name.strip()
    if not name:
        raise BadRequest("name must not be empty")
    models = _model_list(body.models or [], "models", allow_wildcard=True)
    blacklist = _model_list(body.blacklisted_models or [], "blacklisted_models", allow_wildcard=False)
    aliases = _aliases(body.aliases or {})
    weight = _weight(body.weight)
    check_deployment_names(info, models, aliases)
    config = _store_config(info, body, box, row.config or {}, rules)
    _require_config(info, config, await _provider_base_url(session, info.name))
    await check_targets(info, config, rules)
    value = store_field(body.value, field="value", sensitive=True, box=box, previous=row.value, rules=rules)
    if value is None and info.requires_value and not (info.name == "azure" and _has_entra_auth(config)):
        raise BadRequest(f"value is required for provider '{info.name}'")
    if info.name == "bedrock":
        _require_bedrock_auth(config, has_value=value is not None)
    if info.name == "vertex":
        await check_service_account(config, box, rules)
    await _check_name_free(session, name=name, org_id=row.org_id, exclude_uid=row.uid)
    row.name = name
    row.value = value
    row.models = models
    row.blacklisted_models = blacklist
    row.aliases = aliases
    row.weight = weight
    row.config = config
    row.enabled = body.enabled
    row.use_for_batch_api = body.use_for_batch_api
    row.config_hash = config_hash(row)


def _audit_details(row: ProviderCredential, **extra: Any) -> dict[str, Any]:
    return {
        "provider": row.provider,
        "name": row.name,
        "platform": row.org_id is None,
        "enabled": row.enabled,
        **extra,
    }


async def _flush(session: AsyncSession, what: str) -> None:
    """A concurrent request may take the id or name between our check and the insert."""
    await flush_or_conflict(session, f"A key with this {what} already exists", code="duplicate_key")


# ---- writing ---------------------------------------------------------------------------------


async def create_credential(
    *,
    session: AsyncSession,
    principal: Principal,
    provider: str,
    body: CredentialIn,
    box: SecretBox,
    policy: ProviderPolicy,
    discovery_timeout_seconds: float | None = None,
) -> ProviderCredential:
    """A new credential; one serving every model learns its models from the provider first.

    Discovery runs before the insert (no write lock is held over the network call) and its failure
    never fails the create: the credential keeps status list_models_failed and the reason.
    """
    info = get_provider(provider)
    require_admin(principal, PROVIDERS_WRITE)
    org_id: str | None = principal.require_org()
    if body.platform:
        require_operator_admin(principal, "Platform credentials")
        org_id = None
    key_id = body.id.strip() if body.id else str(uuid.uuid4())
    if not _ID.match(key_id):
        raise BadRequest("id may contain only letters, digits and . _ : -")
    await _check_id_free(session, key_id=key_id, org_id=org_id)
    now = utcnow()
    row = ProviderCredential(
        uid=new_uuid(),
        id=key_id,
        org_id=org_id,
        provider=info.name,
        config={},
        value=None,
        status="",
        description="",
        discovered_models=[],
        created_at=now,
        updated_at=now,
    )
    await _apply(session, row, info, body, box, policy)
    if discovery_timeout_seconds is not None and serves_all_models(row.models):
        await discovery.discover(
            session=session, row=row, box=box, timeout_seconds=discovery_timeout_seconds, policy=policy
        )
    session.add(row)
    await _flush(session, "id or name")
    await audit.record(
        session, principal, "provider_credential.created", row, org_id=principal.org_id, **_audit_details(row)
    )
    return row


async def replace_credential(
    *,
    session: AsyncSession,
    principal: Principal,
    provider: str,
    key_id: str,
    body: CredentialIn,
    box: SecretBox,
    visibility: Visibility,
    policy: ProviderPolicy,
    discovery_timeout_seconds: float | None = None,
) -> ProviderCredential:
    """PUT: every field replaced; a credential serving every model is discovered again when its URL
    or secret changed, when it just became a wildcard, or when it was never discovered."""
    info = get_provider(provider)
    row = await _writable(session, principal, provider, key_id, visibility)
    if body.id is not None and body.id != key_id:
        raise BadRequest("id in the body does not match the key in the path")
    if "platform" in body.model_fields_set and body.platform != (row.org_id is None):
        raise BadRequest("platform cannot be changed; create a new key instead")
    before = row.config_hash
    was_wildcard = serves_all_models(row.models or [])
    reached = await discovery.endpoint(session=session, row=row, box=box, policy=policy)
    await _apply(session, row, info, body, box, policy)
    if discovery_timeout_seconds is not None and serves_all_models(row.models):
        reaches = await discovery.endpoint(session=session, row=row, box=box, policy=policy)
        if reaches != reached or not was_wildcard or not row.status:
            await discovery.discover(
                session=session, row=row, box=box, timeout_seconds=discovery_timeout_seconds, policy=policy
            )
    row.updated_at = utcnow()
    await _flush(session, "name")
    await audit.record(
        session,
        principal,
        "provider_credential.updated",
        row,
        org_id=principal.org_id,
        **_audit_details(row, changed=before != row.config_hash),
    )
    return row


async def delete_credential(
    *,
    session: AsyncSession,
    principal: Principal,
    provider: str,
    key_id: str,
    visibility: Visibility,
) -> ProviderCredential:
    row = await _writable(session, principal, provider, key_id, visibility)
    target = audit.target_of(row)
    if not await delete_once(session, row):
        raise NotFound("Key not found")  # a concurrent delete won
    await audit.record(
        session,
        principal,
        "provider_credential.deleted",
        target,
        org_id=principal.org_id,
        **_audit_details(row),
    )
    return row


async def writable_credential(
    *,
    session: AsyncSession,
    principal: Principal,
    provider: str,
    key_id: str,
    visibility: Visibility,
) -> ProviderCredential:
    """A credential the caller may change (refresh-models writes its status)."""
    return await _writable(session, principal, provider, key_id, visibility)
