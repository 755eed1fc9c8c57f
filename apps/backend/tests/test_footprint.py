"""What the serving process leaves out: each import below costs every replica memory for as long
as it runs (README "Idle memory"), and the server has no use for it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# sqlalchemy.orm: the API reads and writes with Core statements. alembic (and mako): migrations run
# in their own one-shot process (`python -m todo_api.migrate`). debugpy: the dev stage only.
NOT_LOADED_BY_THE_SERVER = ("sqlalchemy.orm", "alembic", "mako", "debugpy")

_LIST_MODULES = """
import json, sys
import todo_api.main as main
main.app  # built as uvicorn builds it: settings from the environment, engine and all
print(json.dumps(sorted(sys.modules)))
"""


def test_the_server_does_not_import_what_it_does_not_use() -> None:
    env = {
        **os.environ,
        # Never connected to: building the app creates the engine (and loads its driver) only.
        "DATABASE_URL": "postgresql+psycopg://todo:unused@127.0.0.1:9/todo",
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    proc = subprocess.run([sys.executable, "-c", _LIST_MODULES], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert "psycopg" in loaded  # the engine was built, so its driver is in
    unwanted = [m for m in loaded if any(m == p or m.startswith(f"{p}.") for p in NOT_LOADED_BY_THE_SERVER)]
    assert unwanted == []
