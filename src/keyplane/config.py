"""Settings read from KEYPLANE_* environment variables, so one process image fits every deployment."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keyplane.net.egress import egress_policy
from keyplane.providers.env_refs import env_ref_policy

SECRET_KEY_FILE = "secret_key"


class Settings(BaseSettings):
    """Every tunable of a keyplane process; see the settings table in the README."""

    model_config = SettingsConfigDict(env_prefix="KEYPLANE_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".keyplane"), description="Holds the SQLite file and the generated secret key."
    )
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; default SQLite in data_dir.")
    redis_url: str | None = Field(
        default=None, description="Optional Redis: key invalidation and rate limits shared between instances."
    )
    secret_key: str | None = Field(default=None, description="Signs sessions and encrypts secrets.")
    secret_key_previous: str | None = Field(
        default=None,
        description="Comma-separated former secret keys, still accepted to decrypt provider secrets.",
    )
    show_platform_credentials: bool = Field(
        default=True, description="Orgs see the platform's provider credentials (read-only, redacted)."
    )
    provider_discovery_timeout_seconds: float = Field(default=10.0, gt=0.0)
    allowed_env_refs: str = Field(
        default="",
        description="Comma-separated names or globs operator-org credentials may read from the "
        "environment (env.NAME); empty: none. KEYPLANE_* names never.",
    )
    allowed_upstream_hosts: str = Field(
        default="",
        description="Comma-separated hostnames and CIDRs tenant credentials may reach besides "
        "public internet addresses; empty: public addresses only.",
    )
    jwt_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    invitation_ttl_hours: int = Field(
        default=7 * 24, ge=1, le=90 * 24, description="How long an invitation token may be accepted."
    )
    base_currency: str = Field(default="USD", min_length=3, max_length=3)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    log_level: str = Field(default="info")
    db_pool_size: int = Field(default=10, ge=1)
    key_cache_ttl_seconds: float = Field(default=1.0, ge=0.0)
    usage_flush_interval_seconds: float = Field(default=0.5, gt=0.0)
    usage_flush_batch_size: int = Field(default=500, ge=1)
    upstream_timeout_seconds: float = Field(default=60.0, gt=0.0)
    gateway_default_max_tokens: int = Field(
        default=4096, ge=1, description="Output tokens reserved when neither request nor project caps them."
    )
    stale_reservation_seconds: float = Field(
        default=900.0, gt=0.0, description="Reservations idle this long are crash leftovers, released."
    )
    management_keys_per_user: int = Field(default=10, ge=1)
    inference_keys_per_user: int = Field(default=100, ge=1)

    @field_validator("allowed_env_refs")
    @classmethod
    def _check_env_refs(cls, value: str) -> str:
        env_ref_policy(value)  # a malformed entry stops the process at start, not at first use
        return value

    @field_validator("allowed_upstream_hosts")
    @classmethod
    def _check_upstream_hosts(cls, value: str) -> str:
        egress_policy(value)
        return value

    @field_validator("base_currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        return value.upper()

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured URL, or an SQLite file inside the data directory."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / 'keyplane.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured secret, else the one generated once into the data directory."""
        if self.secret_key:
            return self.secret_key
        return load_or_create_secret_key(self.data_dir)

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def normalize_database_url(url: str) -> str:
    """Accept plain postgres:// and sqlite:// URLs and pick the async drivers keyplane ships."""
    for prefix, replacement in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(prefix):
            return replacement + url[len(prefix) :]
    return url


def load_or_create_secret_key(data_dir: Path) -> str:
    """Generate the secret once, never overwrite it: rotating it would orphan encrypted secrets."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def get_settings() -> Settings:
    """Fresh settings from the environment (cheap; callers keep the instance they need)."""
    return Settings()
