"""Settings: defaults that work on a fresh machine and a secret that never changes silently."""

from __future__ import annotations

from pathlib import Path

from keyplane.config import Settings, load_or_create_secret_key, normalize_database_url


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None)
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{(tmp_path / 'keyplane.db').resolve()}"


def test_secret_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = load_or_create_secret_key(tmp_path)
    second = load_or_create_secret_key(tmp_path)
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_configured_secret_key_wins_over_the_file(tmp_path: Path) -> None:
    load_or_create_secret_key(tmp_path)
    explicit = "explicit-secret-key-of-32-bytes!"
    assert Settings(data_dir=tmp_path, secret_key=explicit).resolved_secret_key == explicit


def test_plain_urls_get_async_drivers() -> None:
    assert normalize_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
