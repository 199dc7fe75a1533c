"""Seed 003's key object as pydantic models: the full one (secrets redacted) and the platform view.

Provider config blocks (`vllm_key_config`, ...) appear only on keys that have them: the routes
serialize with exclude_unset, so a block left unset is left out, as Bifrost does.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class EnvVarOut(BaseModel):
    """Seed 003's EnvVar: a literal shown redacted, or the environment variable it reads."""

    value: str
    env_var: str
    from_env: bool


class ProviderKey(BaseModel):
    """A credential with its details; keyplane adds provider, platform and discovered_models."""

    id: str
    name: str
    value: EnvVarOut | None
    models: list[str]
    blacklisted_models: list[str]
    weight: float
    aliases: dict[str, str]
    azure_key_config: dict[str, Any] | None = None
    vertex_key_config: dict[str, Any] | None = None
    bedrock_key_config: dict[str, Any] | None = None
    vllm_key_config: dict[str, Any] | None = None
    ollama_key_config: dict[str, Any] | None = None
    sgl_key_config: dict[str, Any] | None = None
    replicate_key_config: dict[str, Any] | None = None
    enabled: bool
    use_for_batch_api: bool
    config_hash: str
    status: str
    description: str
    provider: str
    platform: bool
    discovered_models: list[str]


class PlatformProviderKey(BaseModel):
    """A platform credential as shown to anyone but the operator's admins: no details."""

    id: str
    name: str
    models: list[str]
    provider: str
    platform: bool


AnyProviderKey = ProviderKey | PlatformProviderKey


class ProviderKeyList(BaseModel):
    keys: list[AnyProviderKey]
    total: int
