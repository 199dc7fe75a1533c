"""Settings an attacker would love: short secrets and bad proxy lists are refused at startup."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from keyplane.config import (
    MIN_SECRET_KEY_BYTES,
    SECRET_KEY_FILE,
    Settings,
    SettingsError,
    describe_settings_error,
)


def _refusal(**fields: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**fields)  # type: ignore[arg-type]
    return describe_settings_error(caught.value)


def test_a_secret_key_one_byte_short_is_refused_naming_the_variable() -> None:
    message = _refusal(secret_key="k" * (MIN_SECRET_KEY_BYTES - 1))
    assert "KEYPLANE_SECRET_KEY must be at least 32 bytes" in message


def test_the_secret_key_is_measured_in_utf8_bytes() -> None:
    assert Settings(secret_key="é" * 16).secret_key == "é" * 16  # 16 characters, 32 bytes
    assert "KEYPLANE_SECRET_KEY" in _refusal(secret_key="é" * 15 + "k")  # 31 bytes


def test_a_short_previous_secret_key_is_refused() -> None:
    long_key = "p" * MIN_SECRET_KEY_BYTES
    message = _refusal(secret_key_previous=f"{long_key},short")
    assert "KEYPLANE_SECRET_KEY_PREVIOUS" in message
    assert Settings(secret_key_previous=f"{long_key}, ,").secret_key_previous == f"{long_key}, ,"


def test_a_short_secret_in_the_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / SECRET_KEY_FILE).write_text("short\n")
    with pytest.raises(SettingsError, match=r"secret key in .* must be at least 32 bytes"):
        _ = Settings(data_dir=tmp_path).resolved_secret_key


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.internal", "10.0.0.1, nonsense"])
def test_a_trusted_proxy_that_is_no_ip_or_cidr_is_refused(value: str) -> None:
    assert "KEYPLANE_TRUSTED_PROXIES" in _refusal(trusted_proxies=value)


def test_trusted_proxies_parse_ips_and_cidrs() -> None:
    networks = Settings(trusted_proxies="10.0.0.0/8, 192.168.1.7,::1").trusted_proxy_networks
    assert [str(n) for n in networks] == ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]
