"""SecretBox: AES-GCM round trip, tamper and wrong-key detection, redaction."""

from __future__ import annotations

import base64

import pytest

from keyplane.kernel.env_refs import NO_ENV, env_ref_policy
from keyplane.providers.secrets import (
    SecretBox,
    SecretDecryptError,
    redact,
    resolve_secret,
    store_env,
    store_literal,
)

SECRET = "sk-live-0123456789abcdef"


def test_round_trip() -> None:
    box = SecretBox("key-one")
    assert box.decrypt(box.encrypt(SECRET)) == SECRET


def test_each_encryption_uses_a_fresh_nonce() -> None:
    box = SecretBox("key-one")
    assert box.encrypt(SECRET) != box.encrypt(SECRET)


def test_token_does_not_contain_the_plaintext() -> None:
    token = SecretBox("key-one").encrypt(SECRET)
    assert SECRET not in token and token.startswith("kp1.")


def test_tampered_token_is_refused_without_echoing_it() -> None:
    box = SecretBox("key-one")
    token = box.encrypt(SECRET)
    raw = bytearray(base64.urlsafe_b64decode(token[4:]))
    raw[-1] ^= 1
    tampered = "kp1." + base64.urlsafe_b64encode(bytes(raw)).decode()
    with pytest.raises(SecretDecryptError) as caught:
        box.decrypt(tampered)
    assert SECRET not in str(caught.value) and tampered not in str(caught.value)


def test_wrong_key_is_refused() -> None:
    token = SecretBox("key-one").encrypt(SECRET)
    with pytest.raises(SecretDecryptError):
        SecretBox("key-two").decrypt(token)


def test_garbage_is_refused() -> None:
    with pytest.raises(SecretDecryptError):
        SecretBox("key-one").decrypt("kp1.!!!")
    with pytest.raises(SecretDecryptError):
        SecretBox("key-one").decrypt("plaintext")


def test_previous_key_still_decrypts_during_a_roll() -> None:
    old_token = SecretBox("old").encrypt(SECRET)
    box = SecretBox("new", previous_keys=["old"])
    assert box.decrypt(old_token) == SECRET
    assert SecretBox("new").decrypt(box.encrypt(SECRET)) == SECRET


def test_short_values_are_fully_masked() -> None:
    assert redact("abcdefgh") == "********"


def test_long_values_keep_four_characters_each_side() -> None:
    masked = redact(SECRET)
    assert masked.startswith("sk-l") and masked.endswith("cdef")
    assert "0123456789" not in masked


def test_env_reference_is_read_at_use_time(monkeypatch: pytest.MonkeyPatch) -> None:
    box = SecretBox("key-one")
    stored = store_env("KP_TEST_PROVIDER_KEY")
    monkeypatch.delenv("KP_TEST_PROVIDER_KEY", raising=False)
    allowed = env_ref_policy("KP_TEST_*")
    assert resolve_secret(stored, box, env_refs=allowed) is None
    monkeypatch.setenv("KP_TEST_PROVIDER_KEY", "from-env")
    assert resolve_secret(stored, box, env_refs=allowed) == "from-env"


def test_literal_resolves_to_plaintext() -> None:
    box = SecretBox("key-one")
    assert resolve_secret(store_literal(SECRET, box), box, env_refs=NO_ENV) == SECRET
