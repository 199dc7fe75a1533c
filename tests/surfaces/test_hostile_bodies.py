"""Hostile bodies on every surface's create and update routes (hypothesis, fixed seed, bounded):
lone surrogates, NUL, huge and non-finite numbers, deep nesting, wrong types and shapes, odd path
segments. Whatever comes, the answer is never a 5xx, and every 4xx has the surface's error shape."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import GatewaySetup
from tests.surfaces.hostile import ROUTES, check, encode, make_targets, send

EXAMPLES = 10  # x every route, per backend: a few seconds
HOSTILE_STRINGS = [
    "\ud800",
    "a\udfffb",
    "\x00",
    "nul\x00inside",
    "\u202eevil",
    "\U0001f600" * 50,
    "x" * 5000,
    "é" * 300,
    "ß" * 250,
    "' OR 1=1 --",
    "../../etc/passwd",
    "%00%ff",
    "=cmd|' /C calc'!A0",
    "{{7*7}}",
    "env.KEYPLANE_SECRET_KEY",
    "http://169.254.169.254/latest",
    "",
    " ",
    "*",
    "-1",
    "1e400",
    "2026-13-45T99:99:99Z",
]
HOSTILE_NUMBERS = [0, -1, 2**31, 2**63, -(2**63) - 1, 10**30, 10**400, 1e308, -0.0, 1.5, 1e-300]
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999"]  # raw JSON tokens Python's json accepts

texts = st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=40))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.sampled_from(HOSTILE_NUMBERS),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
SEGMENTS = st.one_of(st.sampled_from(["m" * 150, "x" * 300, "a b", "%2e%2e", "ü", "\ud800"]), texts)


@st.composite
def bodies(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """A hostile body grown from a valid one: a field replaced, removed or added, the whole body
    replaced, nested beyond reason, a non-finite number, or bytes that are not UTF-8 JSON."""
    kind = draw(st.sampled_from(["replace", "remove", "extra", "whole", "deep", "non_finite", "bytes"]))
    body = dict(base)
    if kind == "replace" and body:
        body[draw(st.sampled_from(sorted(body)))] = draw(values)
    elif kind == "remove" and body:
        body.pop(draw(st.sampled_from(sorted(body))))
    elif kind == "extra":
        body[draw(texts)] = draw(values)
    elif kind == "whole":
        return encode(draw(values))
    elif kind == "deep":
        depth = draw(st.sampled_from([64, 1000, 5000]))
        return b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
    elif kind == "non_finite" and body:
        field = draw(st.sampled_from(sorted(body)))
        return encode({**body, field: 0}).replace(
            f'"{field}": 0'.encode(), f'"{field}": {draw(st.sampled_from(NON_FINITE))}'.encode()
        )
    elif kind == "bytes":
        return draw(st.sampled_from([b"\xff\xfe{", b'{"name": "\xc3"}', b"", b"{", b"null", b'"x"']))
    return encode(body)


@pytest.fixture
async def targets(gateway_setup: GatewaySetup) -> dict[str, str]:
    return await make_targets(gateway_setup)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_hostile_bodies_are_never_a_server_error(
    gateway_setup: GatewaySetup, targets: dict[str, str], data: st.DataObject
) -> None:
    """Each example sends one drawn body to every route of every surface (one setup per backend)."""
    for surface, routes in ROUTES.items():
        for route in routes:
            body = data.draw(bodies(route.base), label=f"{surface} {route.method} {route.path}")
            segment = data.draw(SEGMENTS | st.just(route.segment), label="segment") if route.segment else None
            problem = check(route, "", await send(gateway_setup, targets, route, body, segment))
            assert problem is None, problem
