"""What goes to a provider and what comes back to the caller, for one candidate credential.

Same dialect: the caller's bytes as they came (re-encoded only when the gateway changed the body or
the model) and the provider's answer as it was sent; otherwise translated by gateway/adapters.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from keyplane.gateway.adapters import translate
from keyplane.gateway.adapters.base import Adapter, UpstreamCall, UpstreamRequest, fed_dialect
from keyplane.providers.eligibility import RoutableCredential

if TYPE_CHECKING:
    from keyplane.gateway.service import Admission, Forwarded


def upstream_body(admission: Admission, upstream_model: str) -> bytes:
    if not admission.body_changed and upstream_model == admission.model:
        return admission.raw_body
    return orjson.dumps({**admission.body, "model": upstream_model})


def upstream_request(
    admission: Admission, adapter: Adapter, credential: RoutableCredential, upstream_model: str
) -> UpstreamRequest:
    """The adapter's request; a translation is made once per dialect and model (a BadRequest when
    the adapter's dialect cannot express the request)."""
    fed = fed_dialect(adapter, admission.operation)
    if fed == admission.dialect:
        body = upstream_body(admission, upstream_model)
        parsed: Mapping[str, Any] = admission.body
    else:
        made = admission.translated = admission.translated or {}
        slot = (fed, upstream_model)
        if slot not in made:
            translated = translate.request_body(
                admission.body,
                admission.dialect,
                fed,
                model=upstream_model,
                max_tokens=admission.max_tokens,
                stream=admission.stream,
            )
            made[slot] = (translated, orjson.dumps(translated))
        parsed, body = made[slot]
    call = UpstreamCall(
        credential,
        admission.operation,
        upstream_model,
        body,
        parsed,
        admission.stream,
        admission.client_headers,
    )
    return adapter.request(call)


def answer_body(admission: Admission, forwarded: Forwarded) -> bytes:
    """A buffered answer for the caller: as the provider sent it, or translated to its dialect."""
    adapter = forwarded.adapter
    fed = fed_dialect(adapter, admission.operation)
    if adapter.passthrough and fed == admission.dialect:
        return forwarded.body
    answer = translate.answer(
        adapter.answer(forwarded.payload, model=admission.model),
        fed,
        admission.dialect,
        model=admission.model,
    )
    return orjson.dumps(answer)
