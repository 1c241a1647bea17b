"""E2E tier: real HTTP against `python -m devstack` (what `make dev` runs), started once per session.

`local_stack` yields a LocalServer (base_url = http://127.0.0.1:<port>/v1, dev_key, admin_key);
`loopback_stack` another, shared, that may call servers on 127.0.0.1; `start_local_server` starts a private
instance (e.g. to test how it shuts down).
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_MARKER = "local stack ready on"
READY_TIMEOUT_S = 120.0  # a deadline only: 60 s was missed once with make test beside two other loads
STOP_TIMEOUT_S = 10.0


@dataclass
class LocalServer:
    process: subprocess.Popen[bytes]
    port: int
    dev_key: str
    admin_key: str
    log: IO[str]  # the process's stdout and stderr (a file, so a chatty server can never block on a pipe)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.origin}/v1"

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def stop(self) -> int:
        """SIGTERM, wait, then SIGKILL if it does not exit; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT_S)
        return self.process.returncode


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(**extra_env: str) -> LocalServer:
    """Start `python -m devstack` on a free port with known keys; return once it prints its ready line.

    The port is free when probed, not necessarily when the server binds it (another test session may
    take it in between): a server that exits because its port is in use is started again on another."""
    for _ in range(PORT_ATTEMPTS - 1):
        try:
            return _start_server(**extra_env)
        except PortTaken:
            continue
    return _start_server(**extra_env)


PORT_ATTEMPTS = 3


class PortTaken(RuntimeError):
    """The server exited at start because its port was taken."""


def _start_server(**extra_env: str) -> LocalServer:
    port = free_port()
    dev_key = "sk_test_" + secrets.token_urlsafe(24)
    admin_key = "sk_admin_" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "RUNS_API_PORT": str(port),
        "RUNS_API_DEV_KEY": dev_key,
        "RUNS_API_ADMIN_KEY": admin_key,
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    log = tempfile.NamedTemporaryFile("w+", prefix="runs-api-local-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    server = LocalServer(process, port, dev_key, admin_key, log)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while READY_MARKER not in server.output():
        if process.poll() is not None:
            output = server.output()
            server.log.close()
            os.unlink(server.log.name)
            if "Address already in use" in output:
                raise PortTaken(output)
            raise RuntimeError(f"python -m devstack exited with {process.returncode}:\n{output}")
        if time.monotonic() > deadline:
            server.stop()
            raise TimeoutError(
                f"python -m devstack not ready after {READY_TIMEOUT_S:.0f} s:\n{server.output()}"
            )
        time.sleep(0.1)
    return server


@contextmanager
def running_server(**extra_env: str) -> Iterator[LocalServer]:
    """A local stack for the duration of the block, stopped by its process id afterwards. The block fails
    if the server denied any AWS call: it logs each call a function's template policy does not allow
    (devstack.iam), and code that fails open would otherwise hide it from the test that made it."""
    server = start_server(**extra_env)
    try:
        yield server
        denied = [
            line for line in server.output().splitlines() if "local IAM:" in line and " may not " in line
        ]
        assert not denied, "AWS calls template.yaml does not allow:\n" + "\n".join(denied)
    finally:
        server.stop()
        server.log.close()
        os.unlink(server.log.name)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalServer]:
    with running_server() as server:
        yield server


@pytest.fixture(scope="session")
def loopback_stack() -> Iterator[LocalServer]:
    """A second stack whose http actions and model calls may reach 127.0.0.1 (RUNS_API_HTTP_ALLOWLIST), for
    the tests that serve a receiver or a model there; each makes its own agent, so they share only it."""
    with running_server(RUNS_API_HTTP_ALLOWLIST="127.0.0.1") as server:
        yield server


@pytest.fixture
def start_local_server() -> Iterator[Callable[..., LocalServer]]:
    """A factory for private servers; each is stopped (if still running) after the test."""
    started: list[LocalServer] = []

    def start(**extra_env: str) -> LocalServer:
        server = start_server(**extra_env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        server.log.close()
        os.unlink(server.log.name)


@pytest.fixture(scope="session")
def base_url(local_stack: LocalServer) -> str:
    return local_stack.base_url


@pytest.fixture(scope="session")
def dev_key(local_stack: LocalServer) -> str:
    return local_stack.dev_key


@pytest.fixture(scope="session")
def admin_key(local_stack: LocalServer) -> str:
    return local_stack.admin_key
