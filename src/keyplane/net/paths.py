"""Names that become one segment of an upstream URL path (an Azure deployment): escaped, never steering."""

from __future__ import annotations

from urllib.parse import quote


def is_safe_segment(name: str) -> bool:
    """No separator and no dot-dot: a name can never climb to another path, however it is decoded."""
    return bool(name) and "/" not in name and "\\" not in name and ".." not in name and name != "."


def path_segment(name: str) -> str:
    """The name percent-encoded as one path segment; ValueError for a name that is not safe."""
    if not is_safe_segment(name):
        raise ValueError("unsafe path segment")
    return quote(name, safe="")
