"""Seed 003's key object as input: the one shape a provider credential is written in.

Types are strict (a string where a list belongs is a 400, not a coercion). Server-owned fields
(`config_hash`, `status`, `description`, `discovered_models`) are accepted and ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_SECRET_CHARS = 64 * 1024  # a Vertex service-account JSON is a few KB
MAX_MODEL_CHARS = 200
MAX_MODELS = 2000


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class EnvVarIn(_Strict):
    """Bifrost's EnvVar: a literal `value`, or a reference (`env_var` "env.NAME", `from_env` true)."""

    value: str | None = Field(default=None, max_length=MAX_SECRET_CHARS)
    env_var: str | None = Field(default=None, max_length=200)
    from_env: bool | None = None


# A field that is a secret or a config value: "literal", "env.NAME", or an EnvVar object.
EnvValue = str | EnvVarIn


class AzureKeyConfig(_Strict):
    endpoint: EnvValue | None = Field(default=None)
    api_version: EnvValue | None = None
    client_id: EnvValue | None = None
    client_secret: EnvValue | None = None
    tenant_id: EnvValue | None = None
    scopes: list[str] | None = Field(default=None, max_length=50)


class VertexKeyConfig(_Strict):
    project_id: EnvValue | None = None
    project_number: EnvValue | None = None
    region: EnvValue | None = None
    auth_credentials: EnvValue | None = None


class S3Bucket(_Strict):
    bucket_name: str = Field(min_length=1, max_length=255)
    prefix: str | None = Field(default=None, max_length=1024)
    is_default: bool = False


class BatchS3Config(_Strict):
    buckets: list[S3Bucket] = Field(default_factory=list, max_length=100)


class BedrockKeyConfig(_Strict):
    access_key: EnvValue | None = None
    secret_key: EnvValue | None = None
    session_token: EnvValue | None = None
    region: EnvValue | None = None
    arn: EnvValue | None = None
    batch_s3_config: BatchS3Config | None = None


class ServerUrlConfig(_Strict):
    url: EnvValue | None = None


class VllmKeyConfig(ServerUrlConfig):
    model_name: str | None = Field(default=None, max_length=MAX_MODEL_CHARS)


class ReplicateKeyConfig(_Strict):
    use_deployments_endpoint: bool | None = None


class CredentialIn(_Strict):
    """A whole key as POST and PUT take it (PUT replaces every field)."""

    id: str | None = Field(default=None, min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)
    value: EnvValue | None = None
    # null is accepted as "empty" for the collections: Go clients serialize nil maps and slices so.
    models: list[str] | None = Field(default=None, max_length=MAX_MODELS)
    blacklisted_models: list[str] | None = Field(default=None, max_length=MAX_MODELS)
    weight: float = 1.0
    aliases: dict[str, str] | None = Field(default=None, max_length=MAX_MODELS)
    azure_key_config: AzureKeyConfig | None = None
    vertex_key_config: VertexKeyConfig | None = None
    bedrock_key_config: BedrockKeyConfig | None = None
    vllm_key_config: VllmKeyConfig | None = None
    ollama_key_config: ServerUrlConfig | None = None
    sgl_key_config: ServerUrlConfig | None = None
    replicate_key_config: ReplicateKeyConfig | None = None
    enabled: bool = True
    use_for_batch_api: bool = False
    # keyplane extension: create a platform credential (operator org admins only).
    platform: bool = False


class ProviderSettingIn(_Strict):
    base_url: str | None = Field(default=None, max_length=500)
