"""Which thresholds one flush crossed: each exactly at its boundary, several at once, none twice."""

from __future__ import annotations

import pytest

from keyplane.webhooks.thresholds import crossed

LIMIT = 1_000_000_000  # $1 in nano-USD


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (0, 799_999_999, []),
        (0, 800_000_000, [80]),  # reaching the boundary counts
        (800_000_000, 900_000_000, []),  # 80 % was crossed by an earlier flush
        (799_999_999, 1_000_000_000, [80, 95, 100]),  # one big batch crosses all three
        (940_000_000, 960_000_000, [95]),
        (990_000_000, 1_500_000_000, [100]),  # passing the limit is still the one 100 % crossing
        (1_000_000_000, 1_200_000_000, []),
    ],
)
def test_crossed_thresholds(before: int, after: int, expected: list[int]) -> None:
    assert crossed(before, after, LIMIT) == expected


def test_a_zero_limit_or_no_new_usage_crosses_nothing() -> None:
    assert crossed(0, 10, 0) == []
    assert crossed(900_000_000, 900_000_000, LIMIT) == []
