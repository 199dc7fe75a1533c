"""Usage tags: the one rule for what a tag is, shared by key defaults and the X-Keyplane-Tags header."""

from __future__ import annotations

import re
from collections.abc import Iterable

from keyplane.errors import BadRequest

TAG = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_TAGS = 10
TAGS_HEADER = "X-Keyplane-Tags"


def clean_tags(tags: Iterable[str], *, source: str) -> tuple[str, ...]:
    """At most MAX_TAGS tags of TAG, deduplicated in order; anything else is a 400 naming `source`."""
    cleaned: list[str] = []
    for raw in tags:
        if not isinstance(raw, str) or not TAG.fullmatch(raw):
            shown = raw[:64] if isinstance(raw, str) else type(raw).__name__
            raise BadRequest(
                f"{source}: '{shown}' is not a tag (1-64 characters of A-Z a-z 0-9 . _ : -)",
                code="invalid_tags",
            )
        if raw not in cleaned:
            cleaned.append(raw)
    if len(cleaned) > MAX_TAGS:
        raise BadRequest(f"{source}: at most {MAX_TAGS} tags", code="invalid_tags")
    return tuple(cleaned)


def header_tags(value: str) -> tuple[str, ...]:
    """The tags of a comma-separated X-Keyplane-Tags header (blanks around entries ignored)."""
    if len(value) > MAX_TAGS * 66:
        raise BadRequest(f"{TAGS_HEADER}: at most {MAX_TAGS} tags", code="invalid_tags")
    return clean_tags((part.strip() for part in value.split(",")), source=TAGS_HEADER)


def merged_tags(defaults: tuple[str, ...] | None, requested: tuple[str, ...]) -> tuple[str, ...] | None:
    """The key's default tags, then the request's new ones; None when there are none."""
    if not requested:
        return defaults or None
    if not defaults:
        return requested
    return defaults + tuple(tag for tag in requested if tag not in defaults)
