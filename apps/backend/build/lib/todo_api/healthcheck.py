"""Container health check, stdlib only: `python -m todo_api.healthcheck [PATH]`.

Exits 0 when http://127.0.0.1:$PORT/PATH (PORT default 8000, PATH default /livez)
answers HTTP 200, 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3


def check(path: str = "/livez", port: str | None = None) -> tuple[bool, str]:
    port = port or os.environ.get("PORT", "8000")
    if not path.startswith("/"):
        path = "/" + path
    url = f"http://127.0.0.1:{port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310  # nosec B310 -- the URL is http://127.0.0.1:<PORT>/livez built above, never a caller's scheme
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (OSError, ValueError) as exc:
        return False, f"{url}: {exc}"
    return status == 200, f"{url}: HTTP {status}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    ok, message = check(args[0] if args else "/livez")
    print(message, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
