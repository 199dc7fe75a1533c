"""Run `keyplane` commands as a user would against a served app, and check what they print.

`Cli(server).json(...)` runs a command with `--json` and returns the parsed output;
`Cli(server).table(...)` runs it at 80 columns and asserts that no identifier is wrapped or cut.
`Cli(server).api(...)` asks the API itself, to compare the two.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from tests.factories import bearer
from tests.live_server import LiveServer, run_cli

NARROW = 80
# Fields whose values are identifiers: never wrapped or cut in a table.
ID_FIELDS = {"id", "_id", "hash", "key", "key_hash", "token", "config_hash", "management_key"}
MIN_ID_LENGTH = 8  # shorter values (row numbers) cannot be told apart from other text
BOX_CHARACTERS = set("┏┃┡│└━┳╇┩┴┓┗┛┘┌┐├┤─")


def identifiers(value: Any) -> Iterator[str]:
    """Every id, hash and key in a JSON value, recursively."""
    if isinstance(value, dict):
        for name, item in value.items():
            if isinstance(item, str) and (name in ID_FIELDS or name.endswith("_id")):
                if len(item) >= MIN_ID_LENGTH:
                    yield item
            else:
                yield from identifiers(item)
    elif isinstance(value, list):
        for item in value:
            yield from identifiers(item)


@dataclass
class Cli:
    server: LiveServer
    key: str | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.server.env,
            "KEYPLANE_URL": self.server.base_url,
            "KEYPLANE_MANAGEMENT_KEY": self.key or self.server.management_key,
        }

    def run(self, *args: str, columns: int = NARROW) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), {**self.env, "COLUMNS": str(columns)})

    def json(self, *args: str) -> Any:
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def table(self, *args: str, answer: Any = None, shows: Any = None) -> str:
        """The output at 80 columns, checked: tables fit, no id of `answer` is cut or wrapped, and
        every id of `shows` is there whole on one line."""
        done = self.run(*args)
        assert done.returncode == 0, done.stderr
        output = done.stdout
        lines = output.splitlines()
        for line in lines:
            if set(line) & BOX_CHARACTERS:
                assert len(line) <= NARROW, f"table wider than {NARROW} columns:\n{output}"
        for ident in identifiers(answer):
            if ident[:MIN_ID_LENGTH] in output or ident[-MIN_ID_LENGTH:] in output:
                assert any(ident in line for line in lines), f"{ident} is cut or wrapped:\n{output}"
        for ident in identifiers(shows):
            assert any(ident in line for line in lines), f"{ident} is not whole on a line:\n{output}"
        return output

    def fails(self, *args: str) -> str:
        """A command that must exit 1 with a message and no traceback; returns its stderr."""
        done = self.run(*args)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.startswith("error:")
        return done.stderr

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = bearer(self.key or self.server.management_key)
        response = httpx.request(method, self.server.base_url + path, headers=headers, timeout=30, **kwargs)
        assert response.is_success, response.text
        return response.json()
