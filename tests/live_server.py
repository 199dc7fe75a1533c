"""Real `keyplane serve` processes on loopback, for tests that need a server over real HTTP.

Use the fixtures (registered in tests/conftest.py):

    def test_something(live_server: LiveServer) -> None:
        live_server.base_url            # "http://127.0.0.1:<port>"
        live_server.init["management_key"]  # from `keyplane init --json` on the same database
        live_server.env                 # the environment the server runs with

    def test_two_instances(live_server: LiveServer, live_server_factory: LiveServerFactory) -> None:
        second = live_server_factory(live_server.env)   # another instance on the same database

Outside fixtures: `server_env(...)`, `run_cli(...)`, `run_init(...)`, `start_server(...)` and
`LiveServer.stop()` (or `with start_server(env) as server:`).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import pytest

TEST_SECRET_KEY = "test-secret-key-for-keyplane-live-servers"
# Generous bounds: they only end a test that would otherwise hang; nothing waits for them to pass.
STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 20.0
CLI_TIMEOUT_SECONDS = 120.0


def server_env(
    database_url: str, data_dir: Path, *, secret_key: str = TEST_SECRET_KEY, **extra: str
) -> dict[str, str]:
    """The environment for keyplane processes on one database: inherited env minus other KEYPLANE_*."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KEYPLANE_")}
    env.update(
        {
            "KEYPLANE_DATA_DIR": str(data_dir),
            "KEYPLANE_DATABASE_URL": database_url,
            "KEYPLANE_SECRET_KEY": secret_key,
            "KEYPLANE_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def cli_command(*args: str) -> list[str]:
    """The `keyplane` command as this interpreter runs it (no dependency on PATH)."""
    return [sys.executable, "-m", "keyplane.cli.main", *args]


def run_cli(
    args: Sequence[str], env: dict[str, str], *, timeout: float = CLI_TIMEOUT_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run `keyplane <args>` to completion and return its exit code, stdout and stderr."""
    return subprocess.run(
        cli_command(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_init(env: dict[str, str], *extra_args: str) -> dict[str, Any]:
    """`keyplane init --json` on the env's database; returns the parsed result (management_key, ...)."""
    done = run_cli(["init", "--json", *extra_args], env)
    if done.returncode != 0:
        pytest.fail(f"keyplane init failed ({done.returncode}):\n{done.stdout}\n{done.stderr}", pytrace=False)
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    """One running `keyplane serve` process."""

    base_url: str
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    init: dict[str, Any] = field(default_factory=dict)

    @property
    def api_url(self) -> str:
        """The OpenRouter-style base for SDKs: `<base_url>/api/v1`."""
        return self.base_url + "/api/v1"

    @property
    def management_key(self) -> str:
        return str(self.init["management_key"])

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def is_running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM (graceful shutdown), then SIGKILL if it does not exit in time; returns the code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        return self.process.returncode

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_server(
    env: dict[str, str],
    *,
    extra_args: Sequence[str] = (),
    init: dict[str, Any] | None = None,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
    attempts: int = 3,
) -> LiveServer:
    """Start `keyplane serve` on a free loopback port and return once /healthz answers 200."""
    log_dir = Path(env["KEYPLANE_DATA_DIR"]).parent / "server-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    last_log = ""
    for _ in range(attempts):
        port = free_port()
        log_path = log_dir / f"serve-{port}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                cli_command("serve", "--host", "127.0.0.1", "--port", str(port), *extra_args),
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = LiveServer(
            base_url=f"http://127.0.0.1:{port}",
            port=port,
            env=dict(env),
            process=process,
            log_path=log_path,
            init=dict(init or {}),
        )
        if _wait_healthy(server, timeout):
            return server
        server.stop()
        last_log = server.log()
        if "address already in use" not in last_log.lower():
            break  # a real failure, not a lost race for the port
    pytest.fail(f"keyplane serve did not become healthy; its log:\n{last_log}", pytrace=False)


def _wait_healthy(server: LiveServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0) as http:
        while time.monotonic() < deadline:
            if not server.is_running():
                return False
            try:
                if http.get(server.base_url + "/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.05)
    return False


LiveServerFactory = Callable[..., LiveServer]


@pytest.fixture
def live_server_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment for keyplane processes on this test's database (per backend)."""
    return server_env(database_url, tmp_path / "live-data")


@pytest.fixture
def live_server_factory() -> Iterator[LiveServerFactory]:
    """Start extra servers: `factory(env, extra_args=(...), init=...)`; all stop after the test."""
    started: list[LiveServer] = []

    def start(env: dict[str, str], **kwargs: Any) -> LiveServer:
        server = start_server(env, **kwargs)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture
def live_server(live_server_env: dict[str, str], live_server_factory: LiveServerFactory) -> LiveServer:
    """An initialized keyplane (`keyplane init --json` result in `.init`) serving real HTTP."""
    init = run_init(live_server_env)
    return live_server_factory(live_server_env, init=init)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_live_server(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One initialized server per backend for a whole test module, on its own database.

    Starting a server takes seconds; tests that share one must only rely on what they create.
    """
    from tests import backends

    directory = tmp_path_factory.mktemp("shared-server")
    postgres_url = None
    if request.param == "sqlite":
        url = backends.sqlite_copy(sqlite_template, directory)
    else:
        postgres_url = backends.create_postgres_database()
        if postgres_url is None:
            backends.unavailable("PostgreSQL")
        assert postgres_url is not None
        url = postgres_url
    env = server_env(url, directory / "data")
    server = start_server(env, init=run_init(env))
    yield server
    server.stop()
    if postgres_url is not None:
        backends.drop_postgres_database(postgres_url)
