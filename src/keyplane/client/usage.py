"""Usage calls: record pages and sums grouped by day, model, key or tag (the CSV export streams, so the
clients send it themselves)."""

from __future__ import annotations

from typing import Any, Unpack

from keyplane.client.calls import Call, params, reader, whole
from keyplane.client.types import UsageFilterArgs, UsageGroup, UsageGroupBy, UsagePage

USAGE_PATH = "/api/v1/usage"
EXPORT_PATH = "/api/v1/usage/export.csv"


def usage_filter(**filters: Unpack[UsageFilterArgs]) -> dict[str, Any]:
    return params(**filters) or {}


def list_usage(*, page: int = 1, page_size: int = 100, **filters: Unpack[UsageFilterArgs]) -> Call[UsagePage]:
    """One page of usage records, newest first, with the total count."""
    query = {**usage_filter(**filters), "page": page, "page_size": page_size}
    return Call("GET", USAGE_PATH, whole(UsagePage), params=query)


def usage_groups(group_by: UsageGroupBy, **filters: Unpack[UsageFilterArgs]) -> Call[list[UsageGroup]]:
    """Requests, tokens and cost summed per day (oldest first), model, key or tag (costliest first;
    a record with two tags counts in both)."""
    query = {**usage_filter(**filters), "group_by": group_by}
    return Call("GET", USAGE_PATH, reader(list[UsageGroup]), params=query)
