"""CSV cells a spreadsheet shows as data: text that would start a formula gets a leading quote.

OWASP's rule for CSV injection: a text cell beginning with = + - @ (or tab or carriage return,
which some spreadsheets skip before reading a formula) is prefixed with a single quote. Numbers and
booleans are written as they are, so a negative cost stays a number.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """The value to hand csv.writer: "" for None, escaped text, anything else unchanged."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
