"""One description per API call, shared by the sync and async clients.

A builder function (`list_budgets(scope=...)`) returns a `Call`: the request to send and how to read
the answer. `sync_call(builder)` and `async_call(builder)` turn it into a client method with the
builder's own signature and docstring, so each call is written once and typed for both clients.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast, overload
from urllib.parse import quote

T = TypeVar("T")
P = ParamSpec("P")


class _Unset(enum.Enum):
    UNSET = 0


UNSET = _Unset.UNSET  # "leave unchanged" in updates, where None means "clear"
Unset = _Unset


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One HTTP request and the function that turns its decoded JSON answer into the result."""

    method: str
    path: str
    read: Callable[[Any], T]
    params: dict[str, Any] | None = None
    json: Any = None


def path(template: str, *segments: str) -> str:
    """`template` with each segment percent-encoded: ids may hold `:`, `.` or `/`."""
    return template.format(*(quote(segment, safe="") for segment in segments))


def iso(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat().replace("+00:00", "Z")


def params(**values: Any) -> dict[str, Any] | None:
    """Query parameters without the unset ones; booleans as `true`/`false`, times as ISO 8601."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = str(value).lower()
        elif isinstance(value, datetime):
            out[name] = iso(value)
        else:
            out[name] = value
    return out or None


def changes(**values: Any) -> dict[str, Any]:
    """A PATCH body: only the fields given (None is sent, to clear)."""
    return {name: value for name, value in values.items() if value is not UNSET}


def data(body: Any) -> Any:
    """The `data` member of keyplane's envelope."""
    return body["data"]


def nothing(_body: Any) -> None:
    return None


def reader(_type: type[T]) -> Callable[[Any], T]:
    """Read the `data` envelope as `_type` (a TypedDict or list of them: the JSON is not reshaped)."""
    return lambda body: cast(T, body["data"])


def whole(_type: type[T]) -> Callable[[Any], T]:
    """Read the whole answer as `_type`."""
    return lambda body: cast(T, body)


class SyncRunner(Protocol):
    def run(self, call: Call[T]) -> T: ...


class AsyncRunner(Protocol):
    async def run(self, call: Call[T]) -> T: ...


class sync_call(Generic[P, T]):
    """A sync client method from a builder: same parameters, returns the read answer."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any] | None = None) -> sync_call[P, T]: ...
    @overload
    def __get__(self, client: SyncRunner, owner: type[Any] | None = None) -> Callable[P, T]: ...
    def __get__(self, client: SyncRunner | None, owner: type[Any] | None = None) -> Any:
        if client is None:
            return self
        build = self.build

        @functools.wraps(build)
        def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return client.run(build(*args, **kwargs))

        return method


class async_call(Generic[P, T]):
    """An async client method from a builder: same parameters, a coroutine of the read answer."""

    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, client: None, owner: type[Any] | None = None) -> async_call[P, T]: ...
    @overload
    def __get__(self, client: AsyncRunner, owner: type[Any] | None = None) -> Callable[P, Awaitable[T]]: ...
    def __get__(self, client: AsyncRunner | None, owner: type[Any] | None = None) -> Any:
        if client is None:
            return self
        build = self.build

        @functools.wraps(build)
        async def method(*args: P.args, **kwargs: P.kwargs) -> T:
            return await client.run(build(*args, **kwargs))

        return method
