"""Real servers for the tests: gunicorn started with the repository's gunicorn.conf.py,
as the README says, on a port of its own; stopped (and its workers with it) on leaving."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(5400, 5500)


def free_port(taken: set[int] | None = None) -> int:
    for port in PORTS:
        if taken and port in taken:
            continue
        with socket.socket() as s:
            with suppress(OSError):
                s.bind(("127.0.0.1", port))
                return port
    pytest.skip(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


@dataclass
class Server:
    process: subprocess.Popen
    base: str
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def server_environ(folder: Path, database: str, port: int, **env: str) -> dict[str, str]:
    """The environment of a production instance on `database` whose files are in
    `folder`, answering on 127.0.0.1:`port`; `env` adds or overrides variables."""
    folder.mkdir(parents=True, exist_ok=True)
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRACKER_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    environ.update(
        TRACKER_ENV="production",
        TRACKER_SECRET_KEY=secrets.token_hex(32),
        TRACKER_DATABASE_URL=database,
        TRACKER_INSTANCE_PATH=str(folder / "instance"),
        TRACKER_MAIL_OUTBOX=str(folder / "outbox"),
        TRACKER_BASE_URL=f"http://127.0.0.1:{port}",
        TRACKER_BIND=f"127.0.0.1:{port}",
    )
    environ.update(env)
    return environ


@contextmanager
def worker(folder: Path, environ: dict[str, str]) -> Iterator[subprocess.Popen]:
    """`tracker worker` in `environ` (as server_environ makes it), stopped on leaving."""
    log = (folder / "worker.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - the README's command
        [str(Path(sys.executable).parent / "tracker"), "worker"],
        cwd=folder,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGINT)  # finishes the running jobs
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@contextmanager
def gunicorn(
    folder: Path, database: str, *, port: int | None = None, **env: str
) -> Iterator[Server]:
    """gunicorn in production mode on `database`, answering on 127.0.0.1:`port`; `env`
    adds or overrides variables (TRACKER_WORKERS, TRACKER_SECRET_KEY...)."""
    port = port or free_port()
    environ = server_environ(folder, database, port, **env)
    log_path = folder / "gunicorn.log"
    log = log_path.open("wb")
    process = subprocess.Popen(  # noqa: S603 - the README's command
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "tracker:create_app()"],
        cwd=ROOT,
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, server.log_text()[-3000:]
            with suppress(httpx.HTTPError):
                if httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200:
                    break
            assert time.monotonic() < deadline, server.log_text()[-3000:]
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def workers(master: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{master}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(found)
