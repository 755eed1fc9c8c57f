"""Benchmark: the todo app's page on a cold load in a real browser (Debian's Chromium, driven by
Playwright: testing/browser.py), against a dev stack brought up as `make up` does (a trial stack:
testing/trial_stack.py, purged afterwards), or against a running one with `--web URL`.

Each run is a new browser context (an empty profile: no HTTP cache, no storage) opening the
frontend's published loopback port. Measured in the page, from navigation start:

  first paint                 the `first-paint` / `first-contentful-paint` paint timing entries
  interactive                 the list's status line ("Showing 1–100 of 100 todos" / "No todos
                              yet") is in the DOM: React has hydrated the page, its first
                              fetches (/api/todos/count, then the page) answered and it rendered;
                              from then a click or a key does what it says (a MutationObserver
                              set before any page script records the moment)
  DOMContentLoaded, load      navigation timing, for reference
  JavaScript bytes            every script the page loaded (resource timing): over the wire
                              (transferSize), compressed body (encodedBodySize), and decoded

Scenarios: an empty list, and one full page of the API (100 todos, made through the API).
Reported, not asserted (no goal yet): prints a table, writes bench/results/page_load.json with the
machine and its load. One run on a busy machine: the figures are noisy, the medians less so.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.record import write_results
from testing.browser import VIEWPORT, BrowserUnavailable, TodoApi, chromium, chromium_path, chromium_version
from testing.reference_app import API, WEB

if TYPE_CHECKING:
    from playwright.sync_api import Browser

RESULTS = Path(__file__).resolve().parent / "results" / "page_load.json"
RUNS = 5
UP_TIMEOUT = 1800
# Set before any of the page's scripts: when the list's status line first exists.
READY_OBSERVER = """
window.__dockyardReady = null;
new MutationObserver((_, observer) => {
  if (document.querySelector('[role=status]')) {
    window.__dockyardReady = performance.now();
    observer.disconnect();
  }
}).observe(document, {subtree: true, childList: true});
"""
COLLECT = """() => {
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  const scripts = performance.getEntriesByType('resource')
    .filter(e => e.initiatorType === 'script' || new URL(e.name).pathname.endsWith('.js'));
  const sum = key => scripts.reduce((total, e) => total + e[key], 0);
  return {
    first_paint_ms: paint['first-paint'] ?? null,
    first_contentful_paint_ms: paint['first-contentful-paint'] ?? null,
    interactive_ms: window.__dockyardReady,
    dom_content_loaded_ms: nav.domContentLoadedEventEnd,
    load_ms: nav.loadEventEnd,
    html_bytes: nav.transferSize,
    scripts: scripts.length,
    js_transfer_bytes: sum('transferSize'),
    js_encoded_bytes: sum('encodedBodySize'),
    js_decoded_bytes: sum('decodedBodySize'),
  };
}"""
TIMINGS = ("first_paint_ms", "first_contentful_paint_ms", "interactive_ms", "dom_content_loaded_ms", "load_ms")


class BenchFailed(RuntimeError):
    """A run did not load the page as it must for its numbers to mean anything."""


def cold_load(browser: Browser, url: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        context.add_init_script(READY_OBSERVER)
        page = context.new_page()
        page.goto(url, wait_until="load", timeout=60_000)
        page.wait_for_function("() => window.__dockyardReady !== null", timeout=60_000)
        sample: dict[str, Any] = page.evaluate(COLLECT)
    finally:
        context.close()
    if not sample["scripts"]:
        raise BenchFailed(f"{url} loaded no script: not the todo app?")
    return sample


def summarise(name: str, samples: list[dict[str, Any]]) -> dict[str, Any]:
    row: dict[str, Any] = {"scenario": name, "runs": len(samples)}
    for key in TIMINGS:
        values = [s[key] for s in samples if s[key] is not None]
        row[f"median_{key}"] = round(statistics.median(values), 1) if values else None
        row[f"max_{key}"] = round(max(values), 1) if values else None
    first = samples[0]  # the same files every run
    row.update({key: first[key] for key in ("scripts", "js_transfer_bytes", "js_encoded_bytes", "js_decoded_bytes")})
    row["html_bytes"] = first["html_bytes"]
    row["samples"] = samples
    return row


def measure(web_url: str, seed_api: str | None) -> list[dict[str, Any]]:
    scenarios: list[tuple[str, int | None]] = (
        [("as it is", None)] if seed_api is None else [("empty list", 0), ("100 todos", 100)]
    )
    rows = []
    with chromium() as browser:
        for name, todos in scenarios:
            if seed_api is not None:
                api = TodoApi(seed_api)
                try:
                    api.delete_all()
                    for n in range(todos or 0):
                        api.create(f"todo {n + 1:03d}")
                finally:
                    api.close()
            cold_load(browser, web_url)  # the server's own first request (Next's warm-up) is not a page load
            rows.append(summarise(name, [cold_load(browser, web_url) for _ in range(RUNS)]))
        browser_version = browser.version
    for row in rows:
        row["browser"] = browser_version
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        f"{'scenario':<12}{'first paint':>13}{'FCP':>9}{'interactive':>13}{'load':>9}{'scripts':>9}{'JS wire kB':>12}{'JS kB':>9}"
    )
    for row in rows:
        print(
            f"{row['scenario']:<12}{row['median_first_paint_ms']:>10.0f} ms{row['median_first_contentful_paint_ms']:>6.0f} ms"
            f"{row['median_interactive_ms']:>10.0f} ms{row['median_load_ms']:>6.0f} ms{row['scripts']:>9}"
            f"{row['js_transfer_bytes'] / 1000:>12.1f}{row['js_decoded_bytes'] / 1000:>9.1f}"
        )
    print(f"(medians of {RUNS} cold loads each; JS wire = bytes over the wire, JS = decoded)")


def on_trial_stack() -> tuple[list[dict[str, Any]], str]:
    from testing.trial_stack import new_project, remove_leftovers

    with tempfile.TemporaryDirectory(prefix="bench-page-load-") as tmp:
        project = new_project(Path(tmp))
        try:
            up = project.drive("up", timeout=UP_TIMEOUT)
            if up.returncode != 0:
                raise BenchFailed(f"up failed (exit {up.returncode}):\n{up.output[-4000:]}")
            urls = project.outputs()["urls"]
            return measure(urls[WEB], urls[API]), f"trial stack {project.stack} (make up's driver)"
        finally:
            project.drive("down", "--purge", timeout=600)
            remove_leftovers(project.stack)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.page_load", description=__doc__.splitlines()[0])
    parser.add_argument("--web", help="a running frontend's URL (127.0.0.1): measure it as it is, make no stack")
    args = parser.parse_args(argv)
    load_at_start = round(os.getloadavg()[0], 2)
    try:
        rows, against = (measure(args.web, None), args.web) if args.web else on_trial_stack()
    except (BenchFailed, BrowserUnavailable) as failed:
        print(f"page_load: {failed}", file=sys.stderr)
        return 1
    print_table(rows)
    machine = {
        "chromium": chromium_version(chromium_path()),
        "against": against,
        "load_average_1m_at_start": load_at_start,
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
    }
    write_results(RESULTS, "page_load", rows, run=machine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
