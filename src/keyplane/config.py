"""Settings read from KEYPLANE_* environment variables, so one process image fits every deployment."""

from __future__ import annotations

import ipaddress
import os
import secrets
from functools import cached_property, lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from keyplane.kernel.env_refs import env_ref_policy
from keyplane.net.egress import egress_policy

SECRET_KEY_FILE = "secret_key"
DATABASE_FILE = "keyplane.db"
# HKDF and HS256 get no stronger than their input: 32 bytes (256 bits) is the floor for a secret.
MIN_SECRET_KEY_BYTES = 32
DEFAULT_MAX_KEYS_PER_ORG = 1000
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(ValueError):
    """A setting keyplane cannot start with; the message names the variable or file to fix."""


class Settings(BaseSettings):
    """Every tunable of a keyplane process; see the settings table in the README."""

    model_config = SettingsConfigDict(env_prefix="KEYPLANE_", extra="ignore")

    data_dir: Path = Field(
        default=Path(".keyplane"),
        description="Holds the SQLite file, the generated secret key and the gateway's usage journal.",
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
    model_discovery_on_write: bool = Field(
        default=True,
        description="A credential serving every model asks its provider for its models when created "
        "and when its URL or secret changes.",
    )
    model_discovery_interval_seconds: float = Field(
        default=3600.0,
        ge=0.0,
        description="How often credentials serving every model ask their provider for its models "
        "(with jitter); 0: only at create, update and refresh-models.",
    )
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
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0.0, le=300.0, description="How long one webhook delivery attempt may take."
    )
    webhook_dispatch_interval_seconds: float = Field(
        default=2.0,
        ge=0.0,
        description="How often each instance sends the webhook deliveries that are due; 0: never "
        "(another instance, or a test, sends them).",
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
    upstream_timeout_seconds: float = Field(
        default=60.0, gt=0.0, description="Longest wait between two bytes from a provider."
    )
    upstream_deadline_seconds: float = Field(
        default=600.0,
        gt=0.0,
        description="A buffered answer must arrive whole within this, a stream its first bytes.",
    )
    gateway_default_max_tokens: int = Field(
        default=4096, ge=1, description="Output tokens reserved when neither request nor project caps them."
    )
    enforce_operator_balance: bool = Field(
        default=False,
        description="Refuse the operator org's own keys once its credit balance runs out (tenants: always).",
    )
    stale_reservation_seconds: float = Field(
        default=900.0, gt=0.0, description="Reservations idle this long are crash leftovers, released."
    )
    usage_journal: bool = Field(
        default=True,
        description="Journal unflushed usage in data_dir/usage-journal, so a killed gateway process "
        "loses none (the next process on this data directory charges it).",
    )
    management_keys_per_user: int = Field(default=10, ge=1)
    inference_keys_per_user: int = Field(default=100, ge=1)
    max_keys_per_org: int = Field(
        default=DEFAULT_MAX_KEYS_PER_ORG,
        ge=1,
        description="Unrevoked keys an org may hold when its max_api_keys is NULL.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs/CIDRs whose X-Forwarded-For is believed; empty = never.",
    )
    login_max_failures_per_email: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=20, ge=1)
    login_failure_window_seconds: int = Field(default=15 * 60, ge=1)

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

    @field_validator("secret_key")
    @classmethod
    def _long_secret_key(cls, value: str | None) -> str | None:
        if value:
            check_secret_key(value, "KEYPLANE_SECRET_KEY")
        return value

    @field_validator("secret_key_previous")
    @classmethod
    def _long_previous_keys(cls, value: str | None) -> str | None:
        for entry in (value or "").split(","):
            if entry.strip():
                check_secret_key(entry.strip(), "each KEYPLANE_SECRET_KEY_PREVIOUS entry")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_proxies(cls, value: str) -> str:
        parse_networks(value)
        return value

    @property
    def trusted_proxy_networks(self) -> tuple[IPNetwork, ...]:
        """KEYPLANE_TRUSTED_PROXIES parsed (memoized per value, so copies of settings stay right)."""
        return parse_networks(self.trusted_proxies)

    @cached_property
    def resolved_database_url(self) -> str:
        """The configured URL, or an SQLite file inside the data directory."""
        if self.database_url:
            return normalize_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{(self.data_dir / DATABASE_FILE).resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured secret, else the one generated once into the data directory."""
        if self.secret_key:
            return self.secret_key
        value = load_or_create_secret_key(self.data_dir)
        check_secret_key(value, f"the secret key in {self.data_dir / SECRET_KEY_FILE}")
        return value

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


def check_secret_key(value: str, what: str) -> None:
    """Refuse a secret too short to sign sessions and derive encryption keys from."""
    if len(value.encode("utf-8")) < MIN_SECRET_KEY_BYTES:
        raise SettingsError(
            f"{what} must be at least {MIN_SECRET_KEY_BYTES} bytes long "
            "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


@lru_cache(maxsize=16)
def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """Comma-separated IPs and CIDRs; a bad entry is a startup error naming KEYPLANE_TRUSTED_PROXIES."""
    networks = []
    for entry in value.split(","):
        if entry.strip():
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError as exc:
                raise SettingsError(
                    f"KEYPLANE_TRUSTED_PROXIES: '{entry.strip()[:64]}' is not an IP address or CIDR"
                ) from exc
    return tuple(networks)


def make_private_dir(path: Path) -> None:
    """Create a directory only its owner can enter (it holds the database and the secret key)."""
    if not path.exists():
        path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
        path.chmod(PRIVATE_DIR_MODE)  # mkdir's mode is filtered by the umask; be exact


def describe_settings_error(exc: ValidationError) -> str:
    """One line per bad setting, named as the environment variable the operator sets."""
    lines = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error.get("loc", ()))
        message = str(error.get("msg", "is invalid")).removeprefix("Value error, ")
        lines.append(message if "KEYPLANE_" in message else f"KEYPLANE_{field.upper()}: {message}")
    return "; ".join(lines)


def load_or_create_secret_key(data_dir: Path) -> str:
    """Generate the secret once, never overwrite it: rotating it would orphan encrypted secrets."""
    make_private_dir(data_dir)
    path = data_dir / SECRET_KEY_FILE
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    value = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:  # another worker won the race: use its key
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def get_settings() -> Settings:
    """Fresh settings from the environment (cheap; callers keep the instance they need)."""
    return Settings()
