"""The gateway's rules in hot-path order: authenticate, check, route, reserve, forward, settle.

Surfaces (surfaces/gateway/) parse bytes and write responses; everything they decide comes from here
(what an answer costs and what a provider's refusal means: gateway/settlement.py).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from keyplane.auth.client_address import resolve_client_ip
from keyplane.auth.service import OrganizationSuspended
from keyplane.auth.tokens import hash_key, key_kind_of
from keyplane.billing.pricing import Price, PriceCache, price_in
from keyplane.context import AppContext
from keyplane.errors import BadRequest, Forbidden, PaymentRequired, Unauthorized
from keyplane.gateway.adapters import ADAPTERS, STYLES_FOR
from keyplane.gateway.adapters.base import (
    NO_HEADERS,
    OPENAI,
    OPERATION_DIALECTS,
    OPERATION_KINDS,
    Adapter,
    Dialect,
)
from keyplane.gateway.concurrency import InFlight, Release, SharedInFlight
from keyplane.gateway.crash_recovery import recover_crashed
from keyplane.gateway.http import DeadlineExceeded
from keyplane.gateway.journal import UsageJournal, journal_directory
from keyplane.gateway.key_cache import KeyCache, KeyRecord
from keyplane.gateway.loop import LOOP_HEADER, loop_mark, refuse_own_mark
from keyplane.gateway.messages import cap_max_tokens
from keyplane.gateway.metering import UsageMeter, usage_anomaly
from keyplane.gateway.model_list import listed_models
from keyplane.gateway.outgoing import answer_body, upstream_body, upstream_request
from keyplane.gateway.ratelimit import RateLimiter
from keyplane.gateway.route_policy import (
    RoutingPolicy,
    check_overrides,
    order_candidates,
    policy_from,
    route_candidates,
)
from keyplane.gateway.settlement import (
    NO_USAGE,
    Usage,
    cost_nanos,
    delivered_usage,
    provider_refusal,
    stream_status,
)
from keyplane.gateway.shared_limits import SharedRateLimiter
from keyplane.gateway.snapshot import WorkspaceView, WorkspaceViews
from keyplane.gateway.spend_reservations import (
    Reservation,
    Settlement,
    SpendLedger,
    SpendRefused,
    SqlSpendLedger,
)
from keyplane.gateway.subjects import LimitSubject, subjects_for
from keyplane.gateway.upstream import (
    TRANSPORT_ERRORS,
    UpstreamClient,
    UpstreamFailure,
    UpstreamResponse,
    deadline_failure,
)
from keyplane.kernel.tags import header_tags, merged_tags
from keyplane.models.base import utcnow
from keyplane.providers.eligibility import RoutableCredential
from keyplane.providers.policy import ProviderPolicy
from keyplane.usage.writer import UsageEvent
from keyplane.webhooks.alerts import ThresholdAlerts

# Worst-case prompt size: one token per 3 bytes of request body (real text averages ~4 bytes).
BYTES_PER_TOKEN_ESTIMATE = 3
CACHE_TTL_CAP_SECONDS = 0.5
LATENCY_SMOOTHING = 0.2
ROUTE_CACHE_SIZE = 10_000
# Below this many output tokens an answer is not worth sending: the request is refused instead.
MIN_ANSWER_TOKENS = 16
MAX_TOKENS_LOWERINGS = 2  # a second limit may be tighter than the first that refused


@dataclass(slots=True)
class Admission:
    """A request that passed every check and holds its reservation."""

    request_id: str
    key: KeyRecord
    operation: str  # "chat/completions" | "embeddings" | "messages" (adapters/base.py OPERATION_KINDS)
    model: str
    body: dict[str, Any]
    raw_body: bytes
    body_changed: bool
    candidates: list[tuple[RoutableCredential, str]]
    reservation: Reservation
    prompt_estimate: int
    stream: bool
    client_wants_usage: bool
    started: float = field(default_factory=time.perf_counter)
    settled: bool = False
    dialect: Dialect = OPENAI  # the caller's
    max_tokens: int = 0  # what the reservation assumed, sent where the upstream requires a number
    # The caller's `anthropic-*` headers, for Anthropic upstreams.
    client_headers: Mapping[str, str] = field(default_factory=lambda: NO_HEADERS)
    # Translated request bodies by (adapter dialect, upstream model): made once, tried on each candidate.
    translated: dict[tuple[str, str], tuple[dict[str, Any], bytes]] | None = None
    journal_seq: int = 0  # its lines in the usage journal (0: not journaled)
    max_tokens_lowered: bool = False  # the default max_tokens did not fit a limit: `max_tokens` was sent
    tags: tuple[str, ...] | None = None  # the key's default tags and the request's
    release: Release | None = None  # frees its concurrency slot (max_concurrency), once


@dataclass(slots=True)
class Forwarded:
    """The upstream answer being relayed: buffered (body/payload set) or a stream still open."""

    response: UpstreamResponse
    credential: RoutableCredential
    upstream_model: str
    body: bytes = b""
    payload: Any = None
    adapter: Adapter = ADAPTERS["openai"]


def _json_or_none(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


class Gateway:
    """Per-process gateway state: caches, the spend ledger, the rate limiter, the meter, the pool."""

    def __init__(self, context: AppContext) -> None:
        settings = context.settings
        ttl = min(settings.key_cache_ttl_seconds, CACHE_TTL_CAP_SECONDS)
        self.settings = settings
        policy = ProviderPolicy.from_settings(settings)
        self.keys = KeyCache(context.sessions, ttl)
        self.views = WorkspaceViews(
            context.sessions, secret_key=context.secret_key, ttl_seconds=ttl, policy=policy
        )
        self.loop_mark = loop_mark(context.secret_key)
        self.prices = PriceCache(context.sessions, ttl)
        self.ledger: SpendLedger = SqlSpendLedger(
            context.engine, context.sessions, retry_wait_seconds=settings.usage_flush_interval_seconds
        )
        self.rate_limiter = RateLimiter()
        self.in_flight = InFlight()
        self.shared_in_flight: SharedInFlight | None = None  # set when Redis is configured
        self.shared_limiter: SharedRateLimiter | None = None  # set when Redis is configured
        self.journal_dir = journal_directory(settings)
        self.journal = UsageJournal.open(self.journal_dir) if settings.usage_journal else None
        self._sessions = context.sessions
        self.meter = UsageMeter(
            context.sessions,
            self.ledger,
            interval_seconds=settings.usage_flush_interval_seconds,
            batch_size=settings.usage_flush_batch_size,
            journal=self.journal,
            alerts=ThresholdAlerts(context.sessions),
        )
        self.upstream = UpstreamClient(
            timeout_seconds=settings.upstream_timeout_seconds,
            deadline_seconds=settings.upstream_deadline_seconds,
            egress=policy.egress,
        )
        self.rng = random.Random()
        self.latencies: dict[str, float] = {}
        self.default_max_tokens = settings.gateway_default_max_tokens
        self._route_cache: dict[
            tuple[int, str, frozenset[str]],
            tuple[WorkspaceView, RoutingPolicy, list[tuple[RoutableCredential, str]]],
        ] = {}
        self._subject_cache: dict[tuple[Any, ...], tuple[KeyRecord, WorkspaceView, list[LimitSubject]]] = {}

    # -- authenticate + check -----------------------------------------------------------------

    def refuse_loop(self, marks: list[str]) -> None:
        """508 for a request this deployment forwarded (a credential points at keyplane itself)."""
        refuse_own_mark(marks, self.loop_mark)

    async def authenticate(self, authorization: str | None) -> KeyRecord:
        """Bearer inference key -> cached record; 401 unknown/revoked/disabled/expired, 403 management."""
        if not authorization:
            raise Unauthorized("Missing Authentication header", code="missing_auth")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("Authorization header must be 'Bearer <token>'", code="invalid_auth_header")
        kind = key_kind_of(token)
        if kind is None:
            raise Unauthorized("Invalid API key format", code="invalid_api_key")
        key = await self.keys.get(hash_key(token))
        if key is None:
            raise Unauthorized("API key not found", code="invalid_api_key")
        refusal = key.refusal(utcnow())
        if refusal is not None:
            raise Unauthorized(refusal, code="key_refused")
        if key.org_suspended:
            raise OrganizationSuspended()
        if key.kind != "inference":
            raise Forbidden(
                "Management keys cannot call the gateway; use an inference key", code="not_inference_key"
            )
        return key

    async def admit(
        self,
        key: KeyRecord,
        operation: str,
        body: dict[str, Any],
        raw_body: bytes,
        *,
        request_id: str = "",
        client_headers: Mapping[str, str] = NO_HEADERS,
        tags_header: str | None = None,
    ) -> Admission:
        """Tags, model allowed, a concurrency slot, rate limits, route, worst-case reservation:
        raises 400/403/429/404/501/402; a slot taken is freed again when a later check refuses."""
        tags = merged_tags(key.tags, header_tags(tags_header) if tags_header is not None else ())
        model = body["model"]
        if not key.allows_model(model):
            raise Forbidden(f"This key may not use the model '{model[:200]}'", code="model_not_allowed")
        request_id = request_id or uuid.uuid4().hex
        release = await self._take_slot(key, request_id) if key.max_concurrency else None
        try:
            admission = await self._admit(key, operation, body, raw_body, request_id, client_headers, tags)
        except BaseException:
            if release is not None:
                release()
            raise
        admission.release = release
        return admission

    async def _take_slot(self, key: KeyRecord, request_id: str) -> Release:
        limit = key.max_concurrency or 0
        if self.shared_in_flight is not None:
            return await self.shared_in_flight.acquire(key.id, limit, request_id)
        return self.in_flight.acquire(key.id, limit)

    def check_client(self, key: KeyRecord, peer: str | None, forwarded_for: Iterable[str]) -> None:
        """403 ip_not_allowed for a client outside the key's allowed_ips (auth.client_address resolves it)."""
        if key.allowed_networks is None:
            return
        address = resolve_client_ip(peer, forwarded_for, self.settings.trusted_proxy_networks)
        if not key.allows_address(address):
            raise Forbidden(
                f"This key may not be used from the address {address or 'unknown'}", code="ip_not_allowed"
            )

    async def _admit(
        self,
        key: KeyRecord,
        operation: str,
        body: dict[str, Any],
        raw_body: bytes,
        request_id: str,
        client_headers: Mapping[str, str],
        tags: tuple[str, ...] | None,
    ) -> Admission:
        model = body["model"]
        if key.rate_limit_rpm or key.rate_limit_tpm:
            if self.shared_limiter is not None:
                await self.shared_limiter.admit(key.id, key.rate_limit_rpm, key.rate_limit_tpm)
            else:
                self.rate_limiter.admit(key.id, key.rate_limit_rpm, key.rate_limit_tpm)
        view = await self.views.get(key.org_id, key.workspace_id)
        changed = "provider" in body
        overrides = check_overrides(body.pop("provider", None), allowed=view.allow_overwrite)
        policy, routable = self._routes_for(view, model, overrides, STYLES_FOR[OPERATION_KINDS[operation]])
        candidates = order_candidates(routable, policy, self.rng, self.latencies)

        stream = body.get("stream") is True
        wants_usage = False
        max_out = 0
        requested: int | None = None
        if operation == "chat/completions":
            requested = body.get("max_completion_tokens") or body.get("max_tokens")
            if policy.max_tokens_cap is not None and (requested is None or requested > policy.max_tokens_cap):
                body["max_tokens"] = policy.max_tokens_cap
                body.pop("max_completion_tokens", None)
                requested = policy.max_tokens_cap
                changed = True
            max_out = requested or self.default_max_tokens
            if stream:
                options = body.get("stream_options")
                wants_usage = isinstance(options, dict) and options.get("include_usage") is True
                if not wants_usage:
                    body["stream_options"] = {**(options or {}), "include_usage": True}
                    changed = True
        elif operation == "messages":
            max_out, capped = cap_max_tokens(body, policy.max_tokens_cap)
            changed = changed or capped
        prompt_estimate = len(raw_body) // BYTES_PER_TOKEN_ESTIMATE + 16

        table = self.prices.fresh_table() or await self.prices.table()
        prices = [price_in(table, (model, upstream)) for _, upstream in candidates]
        worst = max(price.worst_cost_nanos(prompt_estimate, max_out) for price in prices)
        lowered_to: int | None = None
        for attempt in range(MAX_TOKENS_LOWERINGS + 1):
            try:
                reservation = await self._reserve(key, view, candidates, worst)
                break
            except SpendRefused as refused:
                lowerable = operation == "chat/completions" and requested is None
                fits = _tokens_that_fit(prices, prompt_estimate, max_out, refused.left) if lowerable else None
                if fits is None or attempt == MAX_TOKENS_LOWERINGS:
                    raise
                max_out = lowered_to = fits
                worst = max(price.worst_cost_nanos(prompt_estimate, max_out) for price in prices)
        if reservation is None:  # only the balance refused and BYOK credentials can serve instead
            candidates = [c for c in candidates if c[0].is_byok]
            reservation = await self._reserve(key, view, candidates, worst)
            assert reservation is not None
        if lowered_to is not None:  # the limit pays for this many output tokens, not the default
            body["max_tokens"] = lowered_to
            changed = True
        journal_seq = (
            self.journal.admitted(
                key,
                request_id=request_id,
                model=model,
                streamed=stream,
                worst=worst,
                holds=reservation.holds,
                platform=any(not c.is_byok for c, _ in candidates),
                tags=tags,
            )
            if self.journal is not None
            else 0
        )
        return Admission(
            request_id=request_id,
            key=key,
            operation=operation,
            model=model,
            body=body,
            raw_body=raw_body,
            body_changed=changed,
            candidates=candidates,
            reservation=reservation,
            prompt_estimate=prompt_estimate,
            stream=stream,
            client_wants_usage=wants_usage,
            dialect=OPERATION_DIALECTS[operation],
            max_tokens=max_out,
            client_headers=client_headers,
            journal_seq=journal_seq,
            max_tokens_lowered=lowered_to is not None,
            tags=tags,
        )

    def _routes_for(
        self, view: WorkspaceView, model: str, overrides: Mapping[str, Any], styles: frozenset[str]
    ) -> tuple[RoutingPolicy, list[tuple[RoutableCredential, str]]]:
        """Policy and routable credentials; cached per view snapshot, model and styles when not overridden."""
        if overrides:
            policy = policy_from(view.inference_config, overrides)
            return policy, route_candidates(view.credentials, model, policy, styles)
        cached = self._route_cache.get((id(view), model, styles))
        if cached is not None and cached[0] is view:
            return cached[1], cached[2]
        policy = policy_from(view.inference_config, {})
        routable = route_candidates(view.credentials, model, policy, styles)
        if len(self._route_cache) > ROUTE_CACHE_SIZE:
            self._route_cache.clear()
        self._route_cache[(id(view), model, styles)] = (view, policy, routable)
        return policy, routable

    async def plan(
        self, key: KeyRecord, model: str, body: dict[str, Any], kind: str
    ) -> list[tuple[RoutableCredential, str]]:
        """The candidates in try order for a request that reserves nothing (token counting)."""
        if not key.allows_model(model):
            raise Forbidden(f"This key may not use the model '{model[:200]}'", code="model_not_allowed")
        view = await self.views.get(key.org_id, key.workspace_id)
        overrides = check_overrides(body.pop("provider", None), allowed=view.allow_overwrite)
        policy, routable = self._routes_for(view, model, overrides, STYLES_FOR[kind])
        return order_candidates(routable, policy, self.rng, self.latencies)

    async def _reserve(
        self,
        key: KeyRecord,
        view: WorkspaceView,
        candidates: list[tuple[RoutableCredential, str]],
        worst: int,
    ) -> Reservation | None:
        platform = any(not c.is_byok for c, _ in candidates)
        byok = any(c.is_byok for c, _ in candidates)
        now = utcnow()
        cache_key = (key.id, id(view), platform, byok, now.date())
        cached = self._subject_cache.get(cache_key)
        if cached is not None and cached[0] is key and cached[1] is view:
            subjects = cached[2]
        else:
            subjects = subjects_for(
                key,
                view.budgets,
                now,
                platform=platform,
                byok=byok,
                operator_balance=self.settings.enforce_operator_balance,
            )
            if len(self._subject_cache) > ROUTE_CACHE_SIZE:
                self._subject_cache.clear()
            self._subject_cache[cache_key] = (key, view, subjects)
        try:
            return await self.ledger.reserve([(subject, worst) for subject in subjects])
        except PaymentRequired as exc:
            if exc.code == "insufficient_balance" and platform and byok:
                return None
            raise

    # -- forward -----------------------------------------------------------------------------

    def upstream_body(self, admission: Admission, upstream_model: str) -> bytes:
        return upstream_body(admission, upstream_model)

    def answer_body(self, admission: Admission, forwarded: Forwarded) -> bytes:
        return answer_body(admission, forwarded)

    async def forward(self, admission: Admission) -> Forwarded:
        """Try the candidates in order; connection errors, timeouts, the deadline, 5xx, 429, redirects
        and (for buffered answers) unreadable bodies fall back to the next one. Streams return once
        their first bytes arrived. A request no candidate's dialect can express raises the first
        translation's BadRequest."""
        errors: list[str] = []
        last: UpstreamFailure | None = None
        untranslatable: BadRequest | None = None
        for credential, upstream_model in admission.candidates:
            adapter = ADAPTERS[credential.api_style]
            try:
                request = upstream_request(admission, adapter, credential, upstream_model)
            except BadRequest as exc:  # this adapter's dialect cannot say it; another one may
                untranslatable = untranslatable or exc
                continue
            request.headers[LOOP_HEADER] = self.loop_mark
            started = time.perf_counter()
            try:
                response = await self.upstream.send(
                    "POST", request.url, request.headers, request.body, guarded=credential.egress_guarded
                )
                status = response.status
                if status >= 500 or status == 429 or 300 <= status < 400:
                    response.close()  # its body is never awaited: a stalled or truncated one fails alike
                    raise UpstreamFailure(
                        f"The provider answered HTTP {status}" + (" (a redirect)" if status < 400 else ""),
                        status=429 if status == 429 else 502,
                    )
                forwarded = Forwarded(response, credential, upstream_model, adapter=adapter)
                if not admission.stream or status >= 400:
                    forwarded.body = await self._read(response)
                    forwarded.payload = _json_or_none(forwarded.body)
                    # An answer may keep its counts in headers (Bedrock's InvokeModel): folded in.
                    with_headers = getattr(adapter, "with_headers", None)
                    if with_headers is not None and status < 300:
                        forwarded.payload = with_headers(forwarded.payload, response.headers)
                    if status < 300 and not isinstance(forwarded.payload, dict):
                        raise UpstreamFailure("The provider returned a response that is not JSON")
                else:
                    await self._first_bytes(response)
            except UpstreamFailure as exc:
                errors.append(f"{credential.provider}: {exc.message}")
                last = exc
                self._observe(credential.uid, 60.0)
                continue
            self._observe(credential.uid, time.perf_counter() - started)
            return forwarded
        if last is None:
            assert untranslatable is not None
            raise untranslatable
        if len(errors) > 1:
            last.message = "All providers failed: " + "; ".join(errors)
        raise last

    @staticmethod
    async def _read(response: UpstreamResponse) -> bytes:
        try:
            return await response.read()
        except DeadlineExceeded as exc:
            raise deadline_failure() from exc
        except TRANSPORT_ERRORS as exc:
            raise UpstreamFailure(f"The provider's answer broke off: {type(exc).__name__}") from exc

    @staticmethod
    async def _first_bytes(response: UpstreamResponse) -> None:
        """A stream is relayed once its first bytes came, so until then it may still fall back."""
        try:
            await response.first_bytes()
        except DeadlineExceeded as exc:
            response.close()
            raise deadline_failure() from exc
        except TRANSPORT_ERRORS as exc:
            response.close()
            raise UpstreamFailure(f"The provider's stream broke off: {type(exc).__name__}") from exc

    def _observe(self, credential_id: str, seconds: float) -> None:
        previous = self.latencies.get(credential_id)
        self.latencies[credential_id] = (
            seconds if previous is None else previous + LATENCY_SMOOTHING * (seconds - previous)
        )

    # -- settle ------------------------------------------------------------------------------

    def settle_failed(
        self, admission: Admission, status: int, error: str, forwarded: Forwarded | None = None
    ) -> None:
        """No usable answer (failure, refusal, cancellation, early end): release it all, charge 0."""
        credential = forwarded.credential if forwarded is not None else None
        self._record(admission, credential, NO_USAGE, status, error, 0)

    def settle_refusal(self, admission: Admission, forwarded: Forwarded) -> tuple[int, str, str]:
        """A provider 4xx: settled at no cost; returns what the caller is told (status, code, message)."""
        status = forwarded.response.status
        self.settle_failed(admission, status, f"provider answered HTTP {status}", forwarded)
        return provider_refusal(status, forwarded.payload)

    async def settle_answer(self, admission: Admission, forwarded: Forwarded) -> None:
        """A buffered answer: charge the usage it reports."""
        usage = forwarded.adapter.usage(forwarded.payload) or NO_USAGE
        table = (self.prices.fresh_table() or await self.prices.table()) if usage.needs_price() else None
        cost = cost_nanos(usage, table, (admission.model, forwarded.upstream_model))
        status = forwarded.response.status
        self._record(admission, forwarded.credential, usage, status, None, cost)

    async def settle_stream(
        self,
        admission: Admission,
        forwarded: Forwarded,
        reported: Usage | None,
        *,
        content_events: int,
        error: str | None,
        client_gone: bool,
    ) -> None:
        """A relayed stream: the provider's usage, else what was delivered; 502/499/200 as it ended."""
        usage = delivered_usage(
            reported, prompt_estimate=admission.prompt_estimate, content_events=content_events
        )
        table = (self.prices.fresh_table() or await self.prices.table()) if usage.needs_price() else None
        cost = cost_nanos(usage, table, (admission.model, forwarded.upstream_model))
        status = stream_status(error, client_gone=client_gone)
        self._record(admission, forwarded.credential, usage, status, error, cost)

    def _record(
        self,
        admission: Admission,
        credential: RoutableCredential | None,
        usage: Usage,
        status: int,
        error: str | None,
        cost: int,
    ) -> None:
        """Exactly once per admission: count the tokens, meter the event, settle the reservation."""
        if admission.settled:
            return
        admission.settled = True
        if admission.release is not None:
            admission.release()
            admission.release = None
        if credential is None:
            cost = 0
        key = admission.key
        reserved = admission.reservation.holds[0][1] if admission.reservation.holds else None
        if usage.clamped or (reserved is not None and cost > reserved):
            _flag_anomaly(admission, usage, cost, reserved)
        is_byok = credential.is_byok if credential is not None else False
        limiter = self.shared_limiter or self.rate_limiter
        limiter.record_tokens(key.id, key.rate_limit_tpm, usage.prompt_tokens + usage.completion_tokens)
        event = UsageEvent(
            request_id=admission.request_id,
            org_id=key.org_id,
            workspace_id=key.workspace_id,
            key_id=key.id,
            user_id=key.user_id,
            model=admission.model[:200],
            provider=credential.provider if credential else "",
            credential_id=credential.id if credential else None,
            is_byok=is_byok,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            cost_nanousd=cost,
            latency_ms=int((time.perf_counter() - admission.started) * 1000),
            status_code=status,
            streamed=admission.stream,
            error=error[:500] if error else None,
            tags=admission.tags,
        )
        if self.journal is not None:
            self.journal.done(admission.journal_seq, event)
        self.meter.record(event, Settlement(admission.reservation, cost, is_byok, admission.journal_seq))

    async def recover_crashed(self) -> int:
        """Charge what killed processes on this database and data directory served but never flushed."""
        own = self.journal.instance if self.journal is not None else None
        return await recover_crashed(
            self.journal_dir, self._sessions, own=own, stale_seconds=self.settings.stale_reservation_seconds
        )

    # -- models ------------------------------------------------------------------------------

    async def list_models(self, key: KeyRecord) -> list[dict[str, Any]]:
        """The models this key may call, from the cached workspace view (gateway/model_list.py)."""
        return listed_models(await self.views.get(key.org_id, key.workspace_id), key)


def _tokens_that_fit(prices: list[Price], prompt_tokens: int, max_out: int, left: int | None) -> int | None:
    """The most output tokens (below `max_out`) whose worst case on every candidate fits in `left`;
    None when not even a minimal answer fits."""
    if left is None:
        return None
    low, high = 0, max_out - 1
    while low < high:
        mid = (low + high + 1) // 2
        if max(price.worst_cost_nanos(prompt_tokens, mid) for price in prices) <= left:
            low = mid
        else:
            high = mid - 1
    return low if low >= MIN_ANSWER_TOKENS else None


def _flag_anomaly(admission: Admission, usage: Usage, cost: int, reserved: int | None) -> None:
    """Absurd usage is stored clamped, a charge beyond the reservation in full: both are logged."""
    if usage.clamped:
        usage_anomaly(
            "clamped",
            "request %s (key %s, model %s) reported usage out of bounds; stored clamped",
            admission.request_id,
            admission.key.id,
            admission.model[:200],
        )
    if reserved is not None and cost > reserved:
        usage_anomaly(
            "over_reservation",
            "request %s (key %s, model %s) costs %d nano-USD, more than the %d reserved",
            admission.request_id,
            admission.key.id,
            admission.model[:200],
            cost,
            reserved,
        )


def check_chat_body(body: Any) -> dict[str, Any]:
    """The shape checks OpenAI makes before anything else: 400 with the field named."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    _check_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages must be a non-empty array", code="invalid_messages")
    if not all(isinstance(m, dict) for m in messages):
        raise BadRequest("each message must be an object", code="invalid_messages")
    if "stream" in body and body["stream"] is not None and not isinstance(body["stream"], bool):
        raise BadRequest("stream must be a boolean", code="invalid_type")
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise BadRequest(f"{name} must be a positive integer", code="invalid_type")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("stream_options must be an object", code="invalid_type")
    return body


def check_embeddings_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object")
    _check_model(body)
    value = body.get("input")
    if isinstance(value, str):
        return body
    if isinstance(value, list) and value:
        return body
    raise BadRequest("input must be a string or a non-empty array", code="invalid_input")


def _check_model(body: dict[str, Any]) -> None:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model is required and must be a string", code="invalid_model")
    if len(model) > 200:
        raise BadRequest("model must be at most 200 characters", code="invalid_model")
