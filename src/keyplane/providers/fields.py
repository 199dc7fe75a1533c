"""Seed 003's EnvVar fields: input -> stored form (encrypted or reference) -> redacted output."""

from __future__ import annotations

from typing import Any

from keyplane.errors import BadRequest
from keyplane.kernel.env_refs import RESERVED_PREFIX
from keyplane.kernel.env_refs import SETTING as ENV_SETTING
from keyplane.providers.policy import OwnerRules
from keyplane.providers.schemas import EnvValue, EnvVarIn
from keyplane.providers.secrets import (
    MASK,
    SecretBox,
    is_valid_env_name,
    store_env,
    store_literal,
    store_plain,
)

ENV_PREFIX = "env."

# Which EnvVar fields of each block hold secrets (encrypted at rest, redacted in responses).
SENSITIVE_FIELDS: dict[str, frozenset[str]] = {
    "azure_key_config": frozenset({"client_secret"}),
    "vertex_key_config": frozenset({"auth_credentials"}),
    "bedrock_key_config": frozenset({"access_key", "secret_key", "session_token"}),
    "vllm_key_config": frozenset(),
    "ollama_key_config": frozenset(),
    "sgl_key_config": frozenset(),
}
ENV_FIELDS: dict[str, tuple[str, ...]] = {
    "azure_key_config": ("endpoint", "api_version", "client_id", "client_secret", "tenant_id"),
    "vertex_key_config": ("project_id", "project_number", "region", "auth_credentials"),
    "bedrock_key_config": ("access_key", "secret_key", "session_token", "region", "arn"),
    "vllm_key_config": ("url",),
    "ollama_key_config": ("url",),
    "sgl_key_config": ("url",),
}


def _env_name(reference: str, field: str, rules: OwnerRules) -> str:
    """The referenced name, when this owner may read it; a 400 saying why not otherwise."""
    if not rules.trusted:
        raise BadRequest(
            f"{field}: environment references are reserved to the operator organization; "
            "send the value itself (it is stored encrypted)",
            code="env_reference_refused",
        )
    name = reference[len(ENV_PREFIX) :] if reference.startswith(ENV_PREFIX) else reference
    if not is_valid_env_name(name):
        raise BadRequest(f"{field}: '{ENV_PREFIX}' must be followed by a valid environment variable name")
    if name.upper().startswith(RESERVED_PREFIX):
        raise BadRequest(
            f"{field}: {RESERVED_PREFIX}* variables are keyplane's own settings and cannot be referenced",
            code="env_reference_refused",
        )
    if not rules.env_refs.allows(name):
        raise BadRequest(
            f"{field}: the environment variable '{name}' is not in {ENV_SETTING}",
            code="env_reference_refused",
        )
    return name


def store_field(
    raw: EnvValue | None,
    *,
    field: str,
    sensitive: bool,
    box: SecretBox,
    previous: dict[str, Any] | None,
    rules: OwnerRules,
) -> dict[str, Any] | None:
    """The stored form of one field; a redacted value equal to the stored preview keeps `previous`.

    Returns None for an absent or empty field. Never puts the submitted value in an error.
    """
    if raw is None:
        return None
    if isinstance(raw, EnvVarIn):
        reference = (raw.env_var or "").strip()
        literal = raw.value or ""
        if raw.from_env or (reference and not literal):
            reference = reference or literal
            if not reference:
                raise BadRequest(f"{field}: from_env is true but env_var is empty")
            return store_env(_env_name(reference, field, rules))
    else:
        literal = raw
        if literal.startswith(ENV_PREFIX):
            return store_env(_env_name(literal, field, rules))
    if literal == "":
        return None
    if previous and previous.get("kind") == "literal" and literal == previous.get("redacted"):
        return previous
    if sensitive and (MASK in literal or set(literal) == {"*"}):
        # A redacted value of another key (or of a secret since replaced) is not a secret.
        raise BadRequest(
            f"{field}: this is a redacted value; send the real secret or the key's own redacted value"
        )
    if not sensitive:
        if len(literal) > 2000:
            raise BadRequest(f"{field}: value is too long")
        return store_plain(literal.strip())
    return store_literal(literal, box)


def render_field(stored: Any) -> dict[str, Any] | None:
    """Seed 003's EnvVar object with secrets redacted."""
    if not isinstance(stored, dict):
        return None
    kind = stored.get("kind")
    if kind == "env":
        return {"value": "", "env_var": ENV_PREFIX + str(stored.get("env_var", "")), "from_env": True}
    if kind == "literal":
        return {"value": str(stored.get("redacted", "")), "env_var": "", "from_env": False}
    if kind == "plain":
        return {"value": str(stored.get("value", "")), "env_var": "", "from_env": False}
    return None


def public_form(stored: Any) -> Any:
    """What a stored field contributes to config_hash and audit: never ciphertext or plaintext."""
    if not isinstance(stored, dict):
        return stored
    if stored.get("kind") == "literal":
        return {"kind": "literal", "redacted": stored.get("redacted")}
    return stored
