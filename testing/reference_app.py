"""The reference app's catalog, pinned on purpose: the one place tests name its services.

Everything else derives what to expect from catalog.yaml (testing/harness.CATALOG), so a
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
# What the apps' runtime images are run with outside the program (bench/images.py, which runs
# under plain python3 without the program's dependencies): each built service's
# health.readiness.path, liveness.path and writablePaths in catalog.yaml.
READINESS_PATHS = {"backend": "/readyz", "frontend": "/api/health"}
LIVENESS_PATHS = {"backend": "/livez", "frontend": "/"}  # answer with no datastore up
WRITABLE_PATHS = {"backend": ("/tmp",), "frontend": ("/tmp", "/app/.next/cache")}  # nosec B108 -- paths inside the app containers (tmpfs mounts), not the host's /tmp
# The services the engine tier's HTTP and SQL checks drive, by their role in the app.
API = "backend"  # the todo API: /api/todos, /readyz (which follows CACHE)
WEB = "frontend"  # the web app: /api/health, and /api/todos proxied to API
DATABASE = "postgres"  # PostgreSQL, user and database "todo": the todos table
CACHE = "redis"  # the API's cache
# The API's probe handlers (/livez, /readyz), which the real tier edits to make a release.
PROBES_SOURCE = "apps/backend/src/todo_api/probes.py"
