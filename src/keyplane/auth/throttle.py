"""Failed password logins counted per email and per client IP, so guessing (and argon2's cost) is bounded.

An attempt is counted before the password is checked, atomically with the check of both counters:
N concurrent guesses cannot all slip under the limit, and a refused attempt never reaches argon2.
A success forgives the email's failures and takes its own attempt off the IP's count. A counter
lives KEYPLANE_LOGIN_FAILURE_WINDOW_SECONDS from its first failure, then starts over.

With KEYPLANE_REDIS_URL the counters are shared by every instance (one Lua script, Redis's clock);
while Redis errors each process counts on its own and Redis is retried after a pause.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import time
from collections import OrderedDict
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from keyplane.auth.client_address import parse_ip
from keyplane.auth.service import authenticate_password
from keyplane.context import AppContext
from keyplane.errors import RateLimited
from keyplane.models import User
from keyplane.shared_redis import Outage, redis_client

if TYPE_CHECKING:
    from redis.asyncio import Redis  # imported only where Redis is configured

SERVICE = "login_throttle"  # AppContext.services entry
RETRY_REDIS_AFTER_SECONDS = 2.0
MAX_LOCAL_COUNTERS = 100_000  # oldest dropped first: a spray of emails cannot exhaust memory
IPV6_PREFIX = 64  # one IPv6 client holds a whole /64: count the prefix, not each address

# KEYS: counters; ARGV[1]: window seconds, ARGV[1 + i]: limit of KEYS[i].
# Returns 0 when admitted (every counter bumped), else the seconds until the fullest one expires.
ADMIT = """
local wait = 0
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i + 1]) then
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      redis.call('EXPIRE', key, ARGV[1])
      ttl = tonumber(ARGV[1]) * 1000
    end
    if ttl > wait then wait = ttl end
  end
end
if wait > 0 then return math.ceil(wait / 1000) end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then redis.call('EXPIRE', key, ARGV[1]) end
end
return 0
"""

# KEYS[1]: the email counter (deleted); KEYS[2], if given: the IP counter (one attempt taken off).
FORGIVE = """
redis.call('DEL', KEYS[1])
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_email: int
    per_ip: int
    window_seconds: int


def email_counter(email: str) -> str:
    """Hashed: the counter's name carries no address (one hash tag: one Redis Cluster slot)."""
    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()
    return f"keyplane:login:{{fail}}:email:{digest}"


def ip_counter(ip_address: str | None) -> str | None:
    address = parse_ip(ip_address)
    if address is None:
        return None
    if address.version == 6:
        return f"keyplane:login:{{fail}}:ip:{ipaddress.ip_network(f'{address}/{IPV6_PREFIX}', strict=False)}"
    return f"keyplane:login:{{fail}}:ip:{address}"


def too_many_attempts(retry_after: int) -> RateLimited:
    return RateLimited(
        f"Too many failed login attempts; try again in {retry_after} seconds",
        retry_after=retry_after,
        code="login_throttled",
    )


class LocalCounters:
    """The per-process counters: name -> (count, monotonic expiry), oldest first."""

    def __init__(self, window_seconds: int, max_counters: int = MAX_LOCAL_COUNTERS) -> None:
        self._window = window_seconds
        self._max = max_counters
        self._counters: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def admit(self, limits: dict[str, int]) -> int:
        """0 and every counter bumped, or the seconds until the fullest counter expires."""
        now = time.monotonic()
        self._expire(now)
        wait = 0.0
        for name, limit in limits.items():
            count, expires = self._counters.get(name, (0, now))
            if count >= limit:
                wait = max(wait, expires - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        for name in limits:
            # Updated in place: the order stays first-failure order, which is expiry order.
            count, expires = self._counters.get(name, (0, now + self._window))
            self._counters[name] = (count + 1, expires)
        while len(self._counters) > self._max:
            self._counters.popitem(last=False)
        return 0

    def forgive(self, email_name: str, ip_name: str | None) -> None:
        self._counters.pop(email_name, None)
        if ip_name is not None and ip_name in self._counters:
            count, expires = self._counters[ip_name]
            self._counters[ip_name] = (max(count - 1, 0), expires)

    def _expire(self, now: float) -> None:
        while self._counters:
            name, (_count, expires) = next(iter(self._counters.items()))
            if expires > now:
                return
            del self._counters[name]


class LoginThrottle:
    def __init__(self, limits: LoginLimits, client: Redis | None = None) -> None:
        self.limits = limits
        self.local = LocalCounters(limits.window_seconds)
        self._admit = client.register_script(ADMIT) if client is not None else None
        self._forgive = client.register_script(FORGIVE) if client is not None else None
        self._skip_until = 0.0
        self._outage = Outage("login throttling", "counting failed logins per process meanwhile")

    def _counters(self, email: str, ip_address: str | None) -> dict[str, int]:
        counters = {email_counter(email): self.limits.per_email}
        ip_name = ip_counter(ip_address)
        if ip_name is not None:
            counters[ip_name] = self.limits.per_ip
        return counters

    async def attempt(self, email: str, ip_address: str | None) -> None:
        """Count one attempt, or raise 429 (with Retry-After) when the email or the IP is over."""
        counters = self._counters(email, ip_address)
        wait = await self._shared_admit(counters)
        if wait is None:
            wait = self.local.admit(counters)
        if wait > 0:
            raise too_many_attempts(wait)

    async def succeeded(self, email: str, ip_address: str | None) -> None:
        """The password was right: the email starts over, and this attempt was no failure."""
        email_name, ip_name = email_counter(email), ip_counter(ip_address)
        self.local.forgive(email_name, ip_name)
        if self._forgive is None or self._skipping():
            return
        try:
            await self._forgive(keys=[email_name] + ([ip_name] if ip_name else []))
        except Exception as exc:
            self._failed(exc)

    async def _shared_admit(self, counters: dict[str, int]) -> int | None:
        """Redis's verdict, or None when there is no Redis or it is failing (count locally)."""
        if self._admit is None or self._skipping():
            return None
        try:
            wait = await self._admit(
                keys=list(counters), args=[self.limits.window_seconds, *counters.values()]
            )
        except Exception as exc:  # an outage never blocks logins: the local counters stand in
            self._failed(exc)
            return None
        self._outage.recovered()
        return int(wait)

    def _skipping(self) -> bool:
        return time.monotonic() < self._skip_until

    def _failed(self, exc: BaseException) -> None:
        self._outage.failed(exc)
        self._skip_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS


async def start_login_throttle(context: AppContext, stack: AsyncExitStack) -> None:
    """Lifespan hook: the process's login throttle, over Redis when KEYPLANE_REDIS_URL is set."""
    settings = context.settings
    limits = LoginLimits(
        per_email=settings.login_max_failures_per_email,
        per_ip=settings.login_max_failures_per_ip,
        window_seconds=settings.login_failure_window_seconds,
    )
    client = redis_client(settings.redis_url) if settings.redis_url else None
    context.services[SERVICE] = LoginThrottle(limits, client)

    async def stop() -> None:
        context.services.pop(SERVICE, None)
        if client is not None:
            await client.aclose()

    stack.push_async_callback(stop)


def login_throttle(context: AppContext) -> LoginThrottle:
    throttle: LoginThrottle = context.services[SERVICE]
    return throttle


async def authenticate_login(
    *, session: AsyncSession, throttle: LoginThrottle, email: str, password: str, ip_address: str | None
) -> User:
    """A password login within the throttle: counted first, so a refused attempt costs no argon2."""
    await throttle.attempt(email, ip_address)
    user = await authenticate_password(session, email=email, password=password)
    await throttle.succeeded(email, ip_address)
    return user
