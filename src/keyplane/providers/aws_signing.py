"""SigV4 signatures for Bedrock requests with botocore's signer, shared by the gateway and discovery.

No boto3 client and no credential chain: the credential's own keys go into botocore's
`Credentials`, one `SigV4Auth` per key set is kept, and each request is signed in memory
(bench/bedrock_signing.py measures it). A Bedrock API key in `value` is sent as a bearer token instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # botocore is imported on the first signature: a server without Bedrock never loads it
    from botocore.auth import SigV4Auth

SERVICE = "bedrock"
SIGNED_OUTPUT = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")
MAX_SIGNERS = 1024
_signers: dict[tuple[str, str, str | None, str], SigV4Auth] = {}


def has_access_keys(extra: Mapping[str, str]) -> bool:
    """The credential signs with an access key pair (else it carries a Bedrock API key)."""
    return bool(extra.get("access_key") and extra.get("secret_key"))


def _signer(extra: Mapping[str, str]) -> SigV4Auth:
    identity = (extra["access_key"], extra["secret_key"], extra.get("session_token") or None, extra["region"])
    found = _signers.get(identity)
    if found is None:
        from botocore.auth import SigV4Auth
        from botocore.credentials import Credentials

        if len(_signers) >= MAX_SIGNERS:
            _signers.clear()
        access, secret, token, region = identity
        found = _signers[identity] = SigV4Auth(Credentials(access, secret, token), SERVICE, region)
    return found


def sign(extra: Mapping[str, str], method: str, url: str, headers: dict[str, str], body: bytes) -> None:
    """Add the SigV4 headers for this exact request to `headers` (the Host header is the URL's)."""
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    _signer(extra).add_auth(request)
    for name in SIGNED_OUTPUT:
        value = request.headers.get(name)
        if value is not None:
            headers[name] = value
