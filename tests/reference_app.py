"""The reference app's catalog, pinned on purpose: the one place tests name its services.

Everything else derives what to expect from catalog.yaml (tests/harness.CATALOG), so a
team that edits the catalog keeps those tests green; tests/unit/test_reference_app.py
checks that catalog.yaml still holds exactly this, and is the test to update (or delete)
when the catalog is yours.
"""

SERVICES = ("postgres", "redis", "migrations", "backend", "frontend")
BUILT = ("backend", "frontend")
SHARED_IMAGES = {"migrations": "backend"}
PUBLIC = ("backend", "frontend")
STATEFUL = ("postgres", "redis")
ONE_SHOT = ("migrations",)
EDGES = {
    ("migrations", "postgres"),
    ("backend", "postgres"),
    ("backend", "redis"),
    ("frontend", "backend"),
}
PORTS = {"postgres": 5432, "redis": 6379, "backend": 8000, "frontend": 3000}
SECRETS = {"postgres-password": "generated", "database-url": "template, or config databaseUrl"}
