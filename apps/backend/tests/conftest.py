"""Session fixtures: a throwaway PostgreSQL cluster and redis-server on free 127.0.0.1 ports.

Both come from Debian packages (`apt-get install -y postgresql redis-server`). Without them
this tier skips locally and fails under CI=true (tests/tiers.py at the repo root).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis as redis_lib
from fastapi.testclient import TestClient

REPO_ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO_ROOT))

from todo_api.main import create_app  # noqa: E402
from todo_api.migrate import alembic_config  # noqa: E402
from todo_api.settings import Settings  # noqa: E402

from tests.tiers import require  # noqa: E402

DB_USER = "todo"
DB_NAME = "todo_test"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout}s")


def postgres_bin_dir() -> Path | None:
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PostgresCluster:
    """initdb + pg_ctl in a temp dir; as root, run as the `postgres` user (initdb refuses root)."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="todo-pg-"))
        self.data = self.base / "data"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.base, user.pw_uid, user.pw_gid)
            self.run_as = ["runuser", "-u", "postgres", "--"]

    def _pg(self, tool: str, *args: str) -> None:
        cmd = [*self.run_as, str(self.bin_dir / tool), *args]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stdout}\n{result.stderr}")

    def start(self) -> None:
        self._pg("initdb", "-D", str(self.data), "-U", DB_USER, "-A", "trust", "-E", "UTF8",
                 "--no-sync")
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.base} "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w",
                 "-o", options, "start")

    def stop(self) -> None:
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, dbname: str = DB_NAME) -> str:
        return f"postgresql+psycopg://{DB_USER}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user=DB_USER, dbname=dbname,
                               autocommit=True)


class RedisServer:
    """redis-server on a fixed free port that tests may stop and start again."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="todo-redis-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis_lib.Redis:
        return redis_lib.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)

    def _pings(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis_lib.RedisError:
            return False

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self._pings, 10, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    @property
    def running(self) -> bool:
        return self.proc is not None


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    bin_dir = postgres_bin_dir()
    require(bin_dir is not None and (bin_dir / "pg_ctl").exists(),
            "PostgreSQL server binaries missing (apt-get install -y postgresql)")
    if os.geteuid() == 0:
        require(shutil.which("runuser") is not None and _has_user("postgres"),
                "running as root needs runuser and a `postgres` user to run initdb")
    assert bin_dir is not None  # require() above stopped the test otherwise
    cluster = PostgresCluster(bin_dir)
    cluster.start()
    try:
        with cluster.connect() as conn:
            conn.execute(f"CREATE DATABASE {DB_NAME}")
        from alembic import command

        command.upgrade(alembic_config(cluster.url()), "head")
        yield cluster
    finally:
        cluster.stop()


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    require(os.path.exists(binary), "redis-server missing (apt-get install -y redis-server)")
    server = RedisServer(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def settings(postgres: PostgresCluster, redis_server: RedisServer) -> Settings:
    return Settings(database_url=postgres.url(), redis_url=redis_server.url,
                    app_version="1.2.3-test", cache_ttl_seconds=30)


@pytest.fixture
def clean_state(postgres: PostgresCluster, redis_server: RedisServer) -> None:
    """Every test starts with no todos, an empty cache and Redis running."""
    if not redis_server.running:
        redis_server.start()
    redis_server.client().flushall()
    with postgres.connect(DB_NAME) as conn:
        conn.execute("TRUNCATE todos RESTART IDENTITY")


@pytest.fixture
def client(settings: Settings, clean_state: None) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def healthcheck(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "todo_api.healthcheck", *args],
                          env={**os.environ, "PORT": str(port)},
                          capture_output=True, text=True, timeout=30)


@dataclass
class UvicornServer:
    proc: subprocess.Popen[str]
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def uvicorn_server(postgres: PostgresCluster, redis_server: RedisServer, clean_state: None, tmp_path: Path) -> Iterator[UvicornServer]:
    """The app as the image runs it. Its output goes to a file: a pipe nobody reads while
    requests run fills up with log lines and stops the server."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": postgres.url(), "REDIS_URL": redis_server.url,
           "APP_VERSION": "7.7.7"}
    log = tmp_path / "uvicorn.log"
    with log.open("w") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "todo_api.main:app", "--host", "127.0.0.1",
             "--port", str(port), "--timeout-graceful-shutdown", "5", "--no-access-log"],
            env=env, stdout=output, stderr=subprocess.STDOUT, text=True,
        )
    try:
        wait_until(lambda: healthcheck(port).returncode == 0, 20, "uvicorn")
        yield UvicornServer(proc, port, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
