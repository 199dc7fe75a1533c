"""Tables for people, JSON for scripts: every command prints through here.

Tables never wrap or cut an identifier (key, hash, id): columns are sized to their longest value
and, in their order of importance, shown while they fit the terminal (free text folds first);
when the identifiers alone do not fit side by side, every row prints as one line per field.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from keyplane.config import Settings

console = Console()
err_console = Console(stderr=True)

FLEX_MIN_WIDTH = 12  # a free-text column folds down to this before any column is dropped
RECORD_LABEL_WIDTH = 28  # labels longer than this are not padded further in records
MIN_TABLE_COLUMNS = 3  # a table narrowed to fewer columns than this reads worse than records


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: `whole` values (ids, hashes) are never cut or dropped, `flex` text may fold."""

    key: str
    header: str | None = None
    whole: bool = False
    flex: bool = False
    format: Callable[[Any], str] | None = None

    @property
    def title(self) -> str:
        return self.header or self.key

    def cell(self, row: Mapping[str, Any]) -> str:
        value = row.get(self.key)
        return self.format(value) if self.format else cell_text(value)


ColumnSpec = Column | str


def cell_text(value: Any) -> str:
    """How a JSON value reads in a table: empty for null, compact JSON for objects and lists."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def _columns(specs: Sequence[ColumnSpec]) -> list[Column]:
    return [spec if isinstance(spec, Column) else Column(spec) for spec in specs]


def _table_width(widths: Sequence[int]) -> int:
    """Rich's default box: one space of padding each side and a border between and around columns."""
    return sum(widths) + 3 * len(widths) + 1


def _fit(columns: list[Column], cells: list[list[str]], width: int) -> list[tuple[int, int]] | None:
    """(index, width) of the columns that fit side by side, or None when even the whole ones don't."""
    need = [
        max([cell_len(column.title), *(cell_len(row[i]) for row in cells)])
        for i, column in enumerate(columns)
    ]
    least = [min(need[i], FLEX_MIN_WIDTH) if c.flex else need[i] for i, c in enumerate(columns)]
    shown = [i for i, column in enumerate(columns) if column.whole]
    if _table_width([least[i] for i in shown]) > width:
        return None
    for i, column in enumerate(columns):  # in order of importance, each one that still fits
        if not column.whole and _table_width([least[j] for j in [*shown, i]]) <= width:
            shown.append(i)
    shown.sort()
    spare = width - _table_width([least[i] for i in shown])
    allotted: list[tuple[int, int]] = []
    for i in shown:
        grow = min(spare, need[i] - least[i]) if columns[i].flex else 0
        spare -= grow
        allotted.append((i, least[i] + grow))
    return allotted


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[ColumnSpec],
    title: str | None = None,
) -> None:
    """Rows as a table that fits the terminal, or as records when the identifiers alone don't fit."""
    specs = _columns(columns)
    cells = [[column.cell(row) for column in specs] for row in rows]
    fitted = _fit(specs, cells, console.width)
    if fitted is None or len(fitted) < min(MIN_TABLE_COLUMNS, len(specs)):
        print_records(rows, specs, title=title)
        return
    hidden = [specs[i].title for i in range(len(specs)) if i not in {j for j, _ in fitted}]
    caption = f"not shown at this width: {', '.join(hidden)} (--json has every field)" if hidden else None
    table = Table(title=title, caption=caption)
    for i, width in fitted:
        column = specs[i]
        table.add_column(
            column.title, width=width, no_wrap=not column.flex, overflow="fold" if column.flex else "crop"
        )
    for row_cells in cells:
        table.add_row(*[Text(row_cells[i]) for i, _ in fitted])
    console.print(table)


def _field_lines(label: str, value: str, label_width: int, width: int) -> list[str]:
    """`label  value` on one line, or the label and then the value on its own line when it is long."""
    head = label.ljust(label_width)
    if "\n" not in value and cell_len(head) + 2 + cell_len(value) <= width:
        return [f"{head}  {value}".rstrip()]
    return [label, *value.splitlines()]


def _print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        console.print(Text(line), soft_wrap=True, highlight=False)


def print_record(record: Mapping[str, Any], columns: Sequence[ColumnSpec] | None = None) -> None:
    """One object, a field per line; long values get a line of their own, never a wrap."""
    specs = _columns(columns) if columns is not None else [Column(name) for name in record]
    label_width = min(RECORD_LABEL_WIDTH, max((cell_len(c.title) for c in specs), default=0))
    lines: list[str] = []
    for column in specs:
        lines.extend(_field_lines(column.title, column.cell(record), label_width, console.width))
    _print_lines(lines)


def print_records(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[ColumnSpec], title: str | None = None
) -> None:
    """Rows too wide for a table: each one a block of `field value` lines."""
    if title:
        _print_lines([title])
    for row in rows:
        console.print(Text("-" * min(console.width, 40)), soft_wrap=True, highlight=False)
        print_record(row, columns)


def print_message(message: str) -> None:
    """A line of prose that may hold an identifier: printed as is, never wrapped."""
    console.print(Text(message), soft_wrap=True, highlight=False)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(Text.assemble(("error:", "red"), " ", message), soft_wrap=True, highlight=False)
    return typer.Exit(code)


def settings_or_fail(*, with_secret: bool = True) -> Settings:
    """The settings, or exit 1 with the variable to fix (no traceback for a configuration mistake)."""
    from pydantic import ValidationError

    from keyplane.config import SettingsError, describe_settings_error, get_settings

    try:
        settings = get_settings()
        if with_secret:
            settings.resolved_secret_key  # noqa: B018 - a short key in the key file stops here too
    except ValidationError as exc:
        raise fail(f"invalid settings: {describe_settings_error(exc)}") from exc
    except SettingsError as exc:
        raise fail(f"invalid settings: {exc}") from exc
    return settings
