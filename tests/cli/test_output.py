"""The CLI's tables at a fixed width: ids are never cut or wrapped; columns go, then rows become records."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from rich.console import Console

from keyplane.cli import output
from keyplane.cli.output import Column, print_record, print_table

HASH = "f" * 64
UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
KEY = "sk-kp-v1-" + "a" * 64


def render(monkeypatch: pytest.MonkeyPatch, width: int, draw: Callable[[], None]) -> list[str]:
    buffer = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=buffer, width=width, color_system=None))
    draw()
    return buffer.getvalue().splitlines()


def whole_on_a_line(value: str, lines: list[str]) -> bool:
    return any(value in line for line in lines)


COLUMNS = (
    Column("id", whole=True),
    Column("name", flex=True),
    Column("limit"),
    Column("workspace_id", "workspace"),
)
ROWS = [
    {"id": UUID, "name": "a name long enough to need folding twice over", "limit": 1.5, "workspace_id": UUID}
]


def test_a_table_that_fits_keeps_every_column_on_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = render(monkeypatch, 200, lambda: print_table(ROWS, COLUMNS))
    assert all(len(line) <= 200 for line in lines)
    assert any(line.count(UUID) == 2 for line in lines)  # id and workspace side by side
    assert any("a name long enough to need folding twice over" in line for line in lines)


def test_at_80_columns_free_text_folds_and_less_important_columns_go(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = render(monkeypatch, 80, lambda: print_table(ROWS, COLUMNS))
    assert all(len(line) <= 80 for line in lines)
    assert whole_on_a_line(UUID, lines)
    assert "not shown at this width: workspace" in " ".join(lines)
    assert "1.5" in "".join(lines)  # a narrow column after a dropped one still shows


def test_ids_too_wide_to_share_a_line_become_records(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"hash": HASH, "workspace_id": UUID, "key": KEY}]
    columns = (Column("hash", whole=True), Column("workspace_id", whole=True), Column("key", whole=True))
    lines = render(monkeypatch, 80, lambda: print_table(rows, columns))
    assert not any("┃" in line for line in lines)
    for value in (HASH, UUID, KEY):
        assert whole_on_a_line(value, lines)


def test_a_record_puts_a_long_value_on_its_own_line(monkeypatch: pytest.MonkeyPatch) -> None:
    record = {"a_rather_long_field_name": HASH, "short": "x", "nested": {"id": UUID}}
    lines = render(monkeypatch, 80, lambda: print_record(record))
    assert HASH in lines and whole_on_a_line(UUID, lines)
    assert lines[lines.index(HASH) - 1] == "a_rather_long_field_name"


def test_values_are_printed_as_text_not_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [{"id": UUID, "name": "[bold]not markup[/bold]"}]
    lines = render(monkeypatch, 120, lambda: print_table(rows, (Column("id", whole=True), "name")))
    assert "[bold]not markup[/bold]" in "\n".join(lines)
