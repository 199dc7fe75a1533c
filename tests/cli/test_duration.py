"""--grace and other durations: plain seconds or one unit (s, m, h, d), nothing else."""

from __future__ import annotations

import pytest

from keyplane.cli.common import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0), ("3600", 3600), ("90s", 90), ("30m", 1800), ("1h", 3600), ("7D", 604_800)]
)
def test_durations_read_as_seconds(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "1.5h", "-1h", "1w", "1h30m", "9999999999"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)
