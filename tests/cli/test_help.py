"""Every command of the `keyplane` CLI explains itself: `--help` exits 0 with the command's own text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from keyplane.cli.main import app


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group under `group` (typer's own click types: groups have `commands`)."""
    for name, command in group.commands.items():
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from commands(command, (*path, name))


ALL = list(commands(typer.main.get_command(app)))


def test_every_domain_has_its_commands() -> None:
    names = {" ".join(path) for path, _ in ALL}
    expected = {
        "providers list", "providers get", "providers add", "providers update", "providers remove",
        "providers refresh-models", "providers settings", "providers catalog", "usage",
        "budgets list", "budgets create", "budgets update", "budgets delete", "members list",
        "members invite", "members set-role", "members remove", "workspaces list", "workspaces create",
        "project-config show", "project-config set", "prices list", "prices set", "prices remove",
        "rates list", "rates get", "rates set", "audit", "credits balance", "credits add",
        "credits ledger", "credits totals", "keys list",
    }  # fmt: skip
    assert expected <= names


@pytest.mark.parametrize("path", [path for path, _ in ALL], ids=" ".join)
def test_help_exits_0_with_the_commands_text(path: tuple[str, ...]) -> None:
    command = dict(ALL)[path]
    assert command.help and command.help.strip(), f"{' '.join(path)} has no help text"
    done = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert command.help.strip().split("\n")[0][:40] in " ".join(done.output.split())
