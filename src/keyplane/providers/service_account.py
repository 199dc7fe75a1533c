"""A Google service account's JSON key (Vertex AI's `auth_credentials`): checked when written and
parsed once more when used, so a key that cannot sign is a 400 naming the field, not a failed call.

The key's `token_uri` is where the gateway fetches access tokens: tenant-set, so it is a URL the
egress guard judges (at write time here, and at connect time in gateway/access_tokens.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.oauth2 import service_account

from keyplane.errors import BadRequest
from keyplane.net.egress import check_url, split_url
from keyplane.providers.policy import OwnerRules
from keyplane.providers.secrets import SecretBox, resolve_secret

FIELD = "vertex_key_config.auth_credentials"
REQUIRED = ("client_email", "private_key", "token_uri")
SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


def parse_service_account(text: str, *, field: str = FIELD) -> dict[str, Any]:
    """The key as a dict with every field Google needs to issue tokens; a 400 naming what is wrong
    (never echoing the key)."""
    try:
        info = json.loads(text)
    except ValueError:
        raise BadRequest(f"{field} must be a service account's JSON key: it is not valid JSON") from None
    if not isinstance(info, dict):
        raise BadRequest(f"{field} must be a service account's JSON key: a JSON object")
    if info.get("type") != "service_account":
        raise BadRequest(f'{field}.type must be "service_account" (a service account\'s JSON key)')
    for name in REQUIRED:
        if not isinstance(info.get(name), str) or not info[name].strip():
            raise BadRequest(f"{field}.{name} is required in a service account's JSON key")
    split_url(info["token_uri"], field=f"{field}.token_uri")
    try:
        credentials(info)
    except (ValueError, TypeError):
        raise BadRequest(f"{field}.private_key is not a PEM RSA private key") from None
    return info


def credentials(info: Mapping[str, Any]) -> service_account.Credentials:
    """google-auth's signer for the key, scoped to Vertex AI (cloud-platform)."""
    made: service_account.Credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
        dict(info), scopes=list(SCOPES)
    )
    return made


async def check_service_account(config: Mapping[str, Any], box: SecretBox, rules: OwnerRules) -> None:
    """Write time: the stored `auth_credentials` parses as a service account whose token_uri the
    owner may reach (an operator's env reference that is unset now is checked when used)."""
    block = config.get("vertex_key_config")
    stored = block.get("auth_credentials") if isinstance(block, Mapping) else None
    if not isinstance(stored, dict):
        return
    text = resolve_secret(stored, box, env_refs=rules.env_refs)
    if text is None:
        return
    info = parse_service_account(text)
    if not rules.trusted:
        await check_url(info["token_uri"], rules.egress, field=f"{FIELD}.token_uri")
