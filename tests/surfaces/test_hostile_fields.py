"""Every field of every surface's create and update routes, in turn, gets each of a few hostile
values (and each route with a path segment, each hostile segment) while the rest of the body stays
valid, so a value that only fails deep in a service (encryption, an audit row, a column length) is
reached: never a 5xx, and every 4xx in the surface's error shape. The hypothesis run beside this
one explores shapes; this sweep makes sure no field is left out."""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from typing import Any

import pytest

from tests.harness import GatewaySetup
from tests.surfaces.hostile import ROUTES, check, encode, make_targets, send

# A lone surrogate, NUL, too long for any column, a number no column holds, every wrong JSON type.
HOSTILE_VALUES: list[Any] = ["\ud800", "a\x00b", "x" * 5000, 2**63, -(10**30), None, [], {}]
HOSTILE_SEGMENTS = ["\ud800", "a\x00b", "m" * 150, "x" * 300, "%2e%2e", " "]


def field_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every field and list item inside a body (objects and lists, depth first)."""
    children = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for name, child in children:
        yield (*prefix, name)
        yield from field_paths(child, (*prefix, name))


def replaced(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy = deepcopy(body)
    holder: Any = copy
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = value
    return copy


@pytest.mark.parametrize("surface", sorted(ROUTES))
async def test_each_field_survives_each_hostile_value(gateway_setup: GatewaySetup, surface: str) -> None:
    targets = await make_targets(gateway_setup)
    problems = []
    for route in ROUTES[surface]:
        for path in field_paths(route.base):
            for value in HOSTILE_VALUES:
                body = encode(replaced(route.base, path, value))
                response = await send(gateway_setup, targets, route, body)
                problems.append(check(route, f"{'.'.join(map(str, path))}={value!r:.20}", response))
        for segment in HOSTILE_SEGMENTS if route.segment else ():
            response = await send(gateway_setup, targets, route, encode(route.base), segment)
            problems.append(check(route, f"segment {segment!r:.20}", response))
    found = [problem for problem in problems if problem is not None]
    assert not found, "\n".join(found)
