"""Money is stored as integer nano-USD (1e-9 USD): exact sums, atomic counters, no float drift."""

from __future__ import annotations

import math

NANOS_PER_USD = 1_000_000_000
MAX_USD = 1_000_000_000.0  # a billion dollars: far above any sane limit, far below BigInteger


def usd_to_nanos(amount: float) -> int:
    """Round to the nearest nano-dollar; callers validate the range first."""
    return round(amount * NANOS_PER_USD)


def nanos_to_usd(amount: int) -> float:
    return amount / NANOS_PER_USD


def is_valid_amount(amount: float, *, allow_zero: bool = True) -> bool:
    if not math.isfinite(amount) or amount < 0 or amount > MAX_USD:
        return False
    return allow_zero or amount > 0
