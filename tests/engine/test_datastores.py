"""dockyard/postgres and dockyard/redis honour the official images' contracts, hardened as the
catalog runs the reference app's database and cache (user, writable paths, memory, port)."""

from __future__ import annotations

import socket

import pytest

from testing import dockerlib as dl
from testing.reference_app import CACHE, DATABASE
from tests.engine.conftest import POSTGRES, REDIS, SPECS, hardened_args

PG_PORT, REDIS_PORT = SPECS[DATABASE].port, SPECS[CACHE].port
PG_HARDENED = hardened_args(SPECS[DATABASE])
REDIS_HARDENED = hardened_args(SPECS[CACHE])
PUBLISH_PG = ["-p", f"127.0.0.1::{PG_PORT}"]
PUBLISH_REDIS = ["-p", f"127.0.0.1::{REDIS_PORT}"]


def start_postgres(env: dict[str, str], extra: list[str] = ()) -> str:
    env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]
    return dl.run_container(POSTGRES, name=dl.unique("pg"), run_args=[*PG_HARDENED, *PUBLISH_PG, *env_args, *extra])


def psql_tcp(container: str, user: str, password: str, db: str, sql: str, check: bool = True) -> str:
    """psql over TCP with a password (scram), run inside the container."""
    return dl.docker(
        "exec", "-e", f"PGPASSWORD={password}", container,
        "psql", "-h", "127.0.0.1", "-U", user, "-d", db, "-tAqc", sql, check=check,
    ).strip()  # fmt: skip


def assert_healthy(container: str, timeout: float = 90) -> None:
    status = dl.wait_health(container, timeout)
    assert status == "healthy", f"{container}: {status}\n{dl.logs(container)}"


@pytest.fixture
def pg_volume(docker_engine) -> str:
    name = dl.unique("pgdata")
    dl.docker("volume", "create", *dl.label_args(), name)
    return name


def test_postgres_initialises_from_env_and_requires_the_password(base_images):
    c = start_postgres({"POSTGRES_USER": "todo", "POSTGRES_PASSWORD": "pw-one", "POSTGRES_DB": "tododb"})
    assert_healthy(c)
    assert psql_tcp(c, "todo", "pw-one", "tododb", "select current_user || '@' || current_database()") == (
        "todo@tododb"
    )
    wrong = dl.docker_proc("exec", "-e", "PGPASSWORD=nope", c, "psql", "-h", "127.0.0.1", "-U", "todo",
                           "-d", "tododb", "-c", "select 1")  # fmt: skip
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr
    hba = dl.docker("exec", c, "sh", "-c", 'grep -v "^#" "$PGDATA/pg_hba.conf" | grep host')
    assert "host all all all scram-sha-256" in hba
    assert "PGDATA=/var/lib/postgresql/data" in dl.image_config(POSTGRES)["Env"]


def test_postgres_password_file(base_images, tmp_path):
    secret = tmp_path / "pg_password"
    secret.write_text("from-a-file\n")
    secret.chmod(0o644)
    c = start_postgres(
        {"POSTGRES_PASSWORD_FILE": "/run/secrets/pg_password"},
        ["-v", f"{secret}:/run/secrets/pg_password:ro"],
    )
    assert_healthy(c)
    assert psql_tcp(c, "postgres", "from-a-file", "postgres", "select 42") == "42"


def test_postgres_without_password_refuses_to_initialise(base_images):
    c = start_postgres({})
    assert dl.wait_exit(c) != 0
    assert "POSTGRES_PASSWORD is not set" in dl.logs(c)


def test_postgres_data_survives_replacement_and_stops_cleanly(base_images, pg_volume):
    env = {"POSTGRES_USER": "todo", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "todo"}
    mount = ["-v", f"{pg_volume}:{SPECS[DATABASE].state.path}"]  # where the catalog keeps its volume
    first = start_postgres(env, mount)
    assert_healthy(first)
    psql_tcp(first, "todo", "pw", "todo", "create table kept (v text); insert into kept values ('survives')")
    dl.docker("stop", "-t", "30", first)
    assert dl.inspect(first)["State"]["ExitCode"] == 0, dl.logs(first)
    assert "database system is shut down" in dl.logs(first)
    dl.docker("rm", first)

    # Unlike upstream's image, the password it is given is applied on every start, before it
    # listens on TCP: the stack's current password always opens a kept volume (after `pulumi
    # destroy` and `pulumi up`, or a changed password), and the old one no longer does.
    second = start_postgres({**env, "POSTGRES_PASSWORD": "changed"}, mount)
    assert_healthy(second)
    assert psql_tcp(second, "todo", "changed", "todo", "select v from kept") == "survives"
    with pytest.raises(dl.DockerError, match="password authentication failed"):
        psql_tcp(second, "todo", "pw", "todo", "select 1")
    assert "initialising" not in dl.logs(second)


def redis_command(port: int, *words: str) -> bytes:
    """One RESP command over TCP to 127.0.0.1:port; the raw first reply."""
    payload = f"*{len(words)}\r\n" + "".join(f"${len(w.encode())}\r\n{w}\r\n" for w in words)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload.encode())
        return s.recv(4096)


def test_redis_answers_ping_read_only_and_non_root(base_images):
    c = dl.run_container(REDIS, name=dl.unique("redis"), run_args=[*REDIS_HARDENED, *PUBLISH_REDIS])
    assert_healthy(c, 60)
    port = dl.host_port(c, REDIS_PORT)
    assert redis_command(port, "PING") == b"+PONG\r\n"
    # Reached through the published port, i.e. not from loopback: protected mode must be off.
    assert redis_command(port, "CONFIG", "GET", "protected-mode").endswith(b"no\r\n")
    assert redis_command(port, "CONFIG", "GET", "dir").endswith(f"{SPECS[CACHE].state.path}\r\n".encode())
    assert dl.docker("exec", c, "id", "-u").strip() == SPECS[CACHE].user.partition(":")[0]


def test_redis_appendonly_override_persists_across_replacement(base_images):
    vol = dl.unique("redisdata")
    dl.docker("volume", "create", *dl.label_args(), vol)
    args = [*REDIS_HARDENED, *PUBLISH_REDIS, "-v", f"{vol}:{SPECS[CACHE].state.path}"]
    first = dl.run_container(REDIS, "redis-server", "--appendonly", "yes", name=dl.unique("redis"), run_args=args)
    assert_healthy(first, 60)
    port = dl.host_port(first, REDIS_PORT)
    assert redis_command(port, "CONFIG", "GET", "appendonly").endswith(b"yes\r\n")
    assert redis_command(port, "CONFIG", "GET", "protected-mode").endswith(b"no\r\n")
    assert redis_command(port, "SET", "kept", "survives") == b"+OK\r\n"
    dl.docker("stop", first)
    assert dl.inspect(first)["State"]["ExitCode"] == 0, dl.logs(first)
    dl.docker("rm", first)

    second = dl.run_container(REDIS, "redis-server", "--appendonly", "yes", name=dl.unique("redis"), run_args=args)
    assert_healthy(second, 60)
    assert redis_command(dl.host_port(second, REDIS_PORT), "GET", "kept") == b"$8\r\nsurvives\r\n"


def test_postgres_runs_initdb_scripts_once_in_the_new_database(base_images, tmp_path):
    script = tmp_path / "01-seed.sql"
    script.write_text("create table seeded (v text); insert into seeded values ('from initdb.d');\n")
    script.chmod(0o644)
    c = start_postgres(
        {"POSTGRES_USER": "todo", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "todo"},
        ["-v", f"{script}:/docker-entrypoint-initdb.d/01-seed.sql:ro"],
    )
    assert_healthy(c)
    assert psql_tcp(c, "todo", "pw", "todo", "select v from seeded") == "from initdb.d"
    assert "running /docker-entrypoint-initdb.d/01-seed.sql" in dl.logs(c)
