"""Shared fixtures: a real PostgreSQL server, fake clocks, and no real sleeping anywhere."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

# Session fixtures that build something big once (a served demo world, a simulated outcomes world).
# `make test` runs the suite on every core with pytest-xdist `--dist loadgroup`: each test goes to a
# worker with its file, and every test using one of these fixtures goes to the same worker, so each is
# built once. A module fixture is built once because its file stays on one worker.
SHARED_SESSION_FIXTURES = ("served", "world")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the xdist group it must run in (see SHARED_SESSION_FIXTURES)."""
    for item in items:
        names = getattr(item, "fixturenames", ())
        group = next((name for name in SHARED_SESSION_FIXTURES if name in names), item.path.as_posix())
        item.add_marker(pytest.mark.xdist_group(group))


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): a server's port, or a closed one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    raise FileNotFoundError(name)


@contextmanager
def _pg_cluster(password: str | None = None) -> Iterator[str]:
    """Start a PostgreSQL server in a temp dir (initdb + pg_ctl) and yield its URL (no database name); stop it after.
    `password`: the superuser's, and every TCP login checks its password (scram-sha-256); None: any login is trusted."""
    try:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    except FileNotFoundError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed; .ci/run installs them")
    root = Path(tempfile.mkdtemp(prefix="syncer-pg-"))
    data, port = root / "data", free_port()
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use the postgres system user
        shutil.chown(root, "postgres")
        run_as = ["runuser", "-u", "postgres", "--"]
    auth = ["-A", "trust"]
    if password is not None:
        (root / "pwfile").write_text(password + "\n")
        if run_as:
            shutil.chown(root / "pwfile", "postgres")
        auth = ["--auth-local", "trust", "--auth-host", "scram-sha-256", f"--pwfile={root / 'pwfile'}"]
    subprocess.run(
        [*run_as, initdb, "-D", str(data), "-U", "postgres", *auth, "--no-sync"], check=True, capture_output=True
    )
    subprocess.run(
        [
            *run_as,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        user = "postgres" if password is None else f"postgres:{password}"
        yield f"postgresql+psycopg://{user}@127.0.0.1:{port}"
    finally:
        subprocess.run([*run_as, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A real PostgreSQL server in a temp dir (initdb + pg_ctl), or $SYNCER_TEST_PG_URL if set.

    Yields a server URL without a database name; use `pg_url` for a fresh database per test.
    """
    if os.environ.get("SYNCER_TEST_PG_URL"):
        yield os.environ["SYNCER_TEST_PG_URL"].rstrip("/")
        return
    with _pg_cluster() as url:
        yield url


PG_ADMIN_PASSWORD = "pg-admin-7c41e0"


@pytest.fixture(scope="session")
def pg_password_server() -> Iterator[str]:
    """A real PostgreSQL server of its own that checks every TCP login's password (scram-sha-256), so a test can
    prove a password reached it intact: `pg_server` trusts every login. Yields the superuser's URL (password
    PG_ADMIN_PASSWORD), without a database name."""
    with _pg_cluster(PG_ADMIN_PASSWORD) as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(f"{pg_server}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{pg_server}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class FakeClock:
    """Monotonic time that moves only when something sleeps: tests never wait for real."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
