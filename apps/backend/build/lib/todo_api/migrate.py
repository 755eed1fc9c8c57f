"""Run database migrations: `python -m todo_api.migrate [upgrade REV | downgrade REV | current]`.

Defaults to `upgrade head` (`downgrade` alone steps back one revision; `downgrade base`
empties the schema). Meant for a one-shot container before the app starts; the app
itself never migrates.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config

from todo_api.settings import SettingsError, load_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
DEFAULT_REVISION = {"upgrade": "head", "downgrade": "-1", "current": ""}
USAGE = "usage: python -m todo_api.migrate [upgrade REVISION | downgrade REVISION | current]"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not an ini option, so '%' in passwords needs no escaping.
    cfg.attributes["database_url"] = database_url
    return cfg


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    action = args[0] if args else "upgrade"
    revision = args[1] if len(args) > 1 else DEFAULT_REVISION.get(action, "")
    if action not in DEFAULT_REVISION or len(args) > 2:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    if not settings.database_url:
        print("migrate: DATABASE_URL (or DATABASE_URL_FILE) must be set", file=sys.stderr)
        return 2
    cfg = alembic_config(settings.database_url)
    if action == "current":
        command.current(cfg)
    elif action == "upgrade":
        command.upgrade(cfg, revision)
    else:
        command.downgrade(cfg, revision)
    print(f"migrate: {action} {revision}".rstrip() + " done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
