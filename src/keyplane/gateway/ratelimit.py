"""Per-key requests-per-minute and tokens-per-minute limits over a sliding 60-second window.

Counted in process here: with N instances behind a load balancer each enforces the key's limit on
its own share. With Redis (KEYPLANE_REDIS_URL) gateway/shared_limits.py counts them across instances
and falls back to this limiter while Redis is unreachable.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from keyplane.errors import RateLimited

WINDOW_SECONDS = 60.0


@dataclass(slots=True)
class _Window:
    requests: deque[float] = field(default_factory=deque)
    tokens: deque[tuple[float, int]] = field(default_factory=deque)
    token_sum: int = 0

    def trim(self, now: float) -> None:
        cutoff = now - WINDOW_SECONDS
        while self.requests and self.requests[0] <= cutoff:
            self.requests.popleft()
        while self.tokens and self.tokens[0][0] <= cutoff:
            self.token_sum -= self.tokens.popleft()[1]


class RateLimiter:
    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def admit(self, key_id: str, rpm: int | None, tpm: int | None) -> None:
        """Count one request, or raise 429 with the seconds until the window has room again."""
        if not rpm and not tpm:
            return
        now = time.monotonic()
        window = self._windows.get(key_id)
        if window is None:
            window = self._windows[key_id] = _Window()
        window.trim(now)
        if rpm and len(window.requests) >= rpm:
            wait = window.requests[len(window.requests) - rpm] + WINDOW_SECONDS - now
            raise rpm_exceeded(rpm, math.ceil(wait))
        if tpm and window.token_sum >= tpm:
            wait = window.tokens[0][0] + WINDOW_SECONDS - now if window.tokens else WINDOW_SECONDS
            raise tpm_exceeded(tpm, math.ceil(wait))
        window.requests.append(now)

    def record_tokens(self, key_id: str, tpm: int | None, tokens: int) -> None:
        if not tpm or tokens <= 0:
            return
        window = self._windows.setdefault(key_id, _Window())
        window.tokens.append((time.monotonic(), tokens))
        window.token_sum += tokens


def rpm_exceeded(rpm: int, retry_after: int) -> RateLimited:
    return RateLimited(
        f"Rate limit of {rpm} requests per minute exceeded for this key",
        retry_after=retry_after,
        code="rate_limit_rpm",
    )


def tpm_exceeded(tpm: int, retry_after: int) -> RateLimited:
    return RateLimited(
        f"Rate limit of {tpm} tokens per minute exceeded for this key",
        retry_after=retry_after,
        code="rate_limit_tpm",
    )
