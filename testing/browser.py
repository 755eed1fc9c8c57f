"""A real browser on the todo app: Debian's headless Chromium (`apt-get install chromium`), driven
by Playwright for Python through `launch(executable_path=...)`, so nothing downloads a browser
(pip's playwright wheel carries only its driver). axe-core comes from npm, pinned by
testing/axe/package-lock.json, installed with `npm ci` into a temporary directory and injected
into the page. tests/real/test_browser.py and bench/page_load.py use this.

Why Playwright and not Selenium with chromium-driver: it waits for what a test asks about
(an element, a text) instead of sleeps and polling loops, types real key events (Tab, Space,
Enter: what :focus-visible follows), and opens a CDP session for the bench; it adds two Python
packages (playwright, greenlet) where Selenium 4.51 adds ten. Its driver speaks CDP to whichever
Chromium it is given: checked with Debian bookworm's chromium 156 (docs/testing.md).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

PROJECT_DIR = Path(__file__).resolve().parent.parent
AXE_PACKAGE = PROJECT_DIR / "testing" / "axe"  # package.json + package-lock.json: axe-core, pinned
# Debian's package puts the browser here; DOCKYARD_CHROMIUM names another Chromium build.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# What a person's laptop window shows; also the size of the README's screenshot.
VIEWPORT: ViewportSize = {"width": 900, "height": 640}
# axe's impact levels that fail the accessibility step (minor and moderate are reported only).
BLOCKING_IMPACTS = ("serious", "critical")


class BrowserUnavailable(RuntimeError):
    """What is missing to run the browser, in words a person can act on."""


def chromium_path() -> str:
    path = os.environ.get("DOCKYARD_CHROMIUM") or shutil.which("chromium") or DEFAULT_CHROMIUM
    if not Path(path).is_file():
        raise BrowserUnavailable(
            f"no Chromium at {path}: install Debian's `chromium` package (.ci/run does), "
            "or set DOCKYARD_CHROMIUM to a Chromium binary"
        )
    return path


def chromium_version(path: str) -> str:
    """`chromium --version` ("Chromium 156.0.8078.129 built on Debian ...")."""
    done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60)  # nosec B603 -- argv list, no shell: the chromium binary this module located
    if done.returncode != 0:
        raise BrowserUnavailable(f"{path} --version failed: {(done.stdout + done.stderr).strip()[-500:]}")
    return done.stdout.strip()


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Playwright Browser on Debian's Chromium, closed afterwards."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise BrowserUnavailable(f"Playwright for Python is not installed ({error}): `make deps`") from error
    path = chromium_path()
    with sync_playwright() as playwright:
        try:
            # As root (CI) Chromium's sandbox cannot start: Playwright passes --no-sandbox itself
            # unless chromium_sandbox is set. /dev/shm is small in containers: use /tmp.
            browser = playwright.chromium.launch(executable_path=path, headless=True, args=["--disable-dev-shm-usage"])
        except Exception as error:  # Playwright's launch error names the binary and its output
            raise BrowserUnavailable(f"Playwright could not start {path}: {str(error)[:1500]}") from error
        try:
            yield browser
        finally:
            browser.close()


def install_axe(workdir: Path) -> str:
    """axe-core's source (axe.min.js), installed by `npm ci` from testing/axe's lock file into
    `workdir` (never into the checkout)."""
    if shutil.which("npm") is None:
        raise BrowserUnavailable("npm is not installed (Node.js 20+ with npm installs axe-core)")
    workdir.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", ".npmrc"):
        shutil.copy2(AXE_PACKAGE / name, workdir / name)
    done = subprocess.run(  # nosec B603 B607 -- argv list, no shell; npm from PATH into a tmp dir
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=workdir, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise BrowserUnavailable(f"npm ci of testing/axe failed: {(done.stdout + done.stderr)[-1500:]}")
    return (workdir / "node_modules" / "axe-core" / "axe.min.js").read_text()


@dataclass(frozen=True)
class Violation:
    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.impact} {self.rule}: {self.help} at {', '.join(self.targets[:5])}"


def axe_violations(page: Page, axe_source: str) -> list[Violation]:
    """Every violation axe-core finds on the page as it is now (all of axe's default rules)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(content=axe_source)
    found = page.evaluate("async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        Violation(
            rule=item["id"],
            impact=item.get("impact") or "unknown",
            help=item["help"],
            targets=tuple(" ".join(map(str, node["target"])) for node in item["nodes"]),
        )
        for item in found
    ]


def focus_ring(page: Page) -> dict[str, Any]:
    """The focused element and whether a person sees where focus is: :focus-visible matches and
    its outline is drawn (style not none, at least 2 px wide)."""
    ring: dict[str, Any] = page.evaluate(
        """() => {
            const el = document.activeElement;
            const style = getComputedStyle(el);
            return {
                tag: el.tagName.toLowerCase(),
                type: el.getAttribute('type'),
                label: el.getAttribute('aria-label') || (el.closest('label') ? el.closest('label').textContent : null),
                row: el.closest('li') ? Number(el.closest('li').dataset.id) : null,
                focusVisible: el.matches(':focus-visible'),
                visible: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2,
            };
        }"""
    )
    return ring


class TodoApi:
    """The todo API over one keep-alive HTTP connection to a published loopback port: seeding
    hundreds of todos this way takes seconds, where the form would take minutes."""

    def __init__(self, base_url: str, timeout: float = 30) -> None:
        parts = urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the todo API is reached only through loopback, not {base_url}")
        self._connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            self._connection.request(method, path, body=payload, headers=headers)
            response = self._connection.getresponse()
        except (http.client.HTTPException, OSError):
            self._connection.close()  # a dropped keep-alive connection: one retry on a new one
            self._connection.request(method, path, body=payload, headers=headers)
            response = self._connection.getresponse()
        raw = response.read()
        return response.status, json.loads(raw) if raw else None

    def create(self, title: str, completed: bool = False) -> dict[str, Any]:
        status, todo = self.request("POST", "/api/todos", {"title": title, "completed": completed})
        if status != 201:
            raise AssertionError(f"POST /api/todos {title!r}: {status} {todo}")
        created: dict[str, Any] = todo
        return created

    def all(self, page_size: int = 500) -> list[dict[str, Any]]:
        """Every todo, page by page as the API serves them (in id order)."""
        todos: list[dict[str, Any]] = []
        while True:
            status, page = self.request("GET", f"/api/todos?offset={len(todos)}&limit={page_size}")
            if status != 200:
                raise AssertionError(f"GET /api/todos: {status} {page}")
            todos.extend(page)
            if len(page) < page_size:
                return todos

    def delete_all(self) -> None:
        for todo in self.all():
            status, body = self.request("DELETE", f"/api/todos/{todo['id']}")
            if status not in (204, 404):
                raise AssertionError(f"DELETE /api/todos/{todo['id']}: {status} {body}")

    def close(self) -> None:
        self._connection.close()
