"""Loop detection: the gateway marks every request it forwards and refuses one carrying its own mark.

A credential pointing at keyplane itself would otherwise forward each request to itself until
something gives way. The mark is an HMAC of a fixed label under the server's secret key: every
instance of one deployment computes the same mark, and the mark reveals nothing of the key.
"""

from __future__ import annotations

import hashlib
import hmac

from keyplane.errors import KeyplaneError

LOOP_HEADER = "X-Keyplane-Forwarded"
_LABEL = b"keyplane/gateway-loop-mark/v1"


class LoopDetected(KeyplaneError):
    status_code = 508
    code = "loop_detected"


def loop_mark(secret_key: str) -> str:
    """The deployment's mark: 128 bits of HMAC-SHA256(secret key, fixed label), hex."""
    return hmac.new(secret_key.encode("utf-8"), _LABEL, hashlib.sha256).hexdigest()[:32]


def refuse_own_mark(values: list[str], mark: str) -> None:
    """508 when a request carries this deployment's mark: keyplane sent it to itself."""
    if any(hmac.compare_digest(value.strip().encode("latin-1"), mark.encode()) for value in values):
        raise LoopDetected(
            "keyplane received a request it forwarded itself: a provider credential points at this gateway",
        )
