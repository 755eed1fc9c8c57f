"""The deployment notification: one JSON POST to the webhook held in the secret DEPLOY_WEBHOOK_URL,
saying success, failure or rollback, after the deploy workflow's jobs (its `notify` job).

The payload (tests/workflows/test_notify.py checks it against a local HTTP server):

    {"event": "success" | "failure" | "rollback", "environment": "staging" | "prod",
     "version": "1.0.3", "ref": "refs/heads/main", "sha": "...", "run_url": "https://…/actions/runs/…",
     "jobs": {"tests": "success", "staging": "success", "production": "skipped"},
     "text": "one line for a chat channel"}

`rollback` is a deploy of an older release tag (pipeline.release_version) that succeeded, or a
failed staging release that the staging job's automatic rollback replaced with the last good one
(STAGING_ROLLED_BACK_TO, the revision it went back to: then `rolledBackTo` says which); any other
job that failed or was cancelled makes it `failure`. With no webhook configured it says so and exits 0:
a missing notification never fails a deploy that worked.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

TIMEOUT_SECONDS = 15
BAD_RESULTS = ("failure", "cancelled")


def event_of(results: Mapping[str, str], kind: str, rolled_back_to: str = "") -> str:
    if rolled_back_to:
        return "rollback"
    if any(result in BAD_RESULTS for result in results.values()):
        return "failure"
    return "rollback" if kind == "rollback" else "success"


def environment_of(results: Mapping[str, str]) -> str:
    """The furthest environment the run deployed (or tried to)."""
    return "prod" if results.get("production") not in (None, "", "skipped") else "staging"


def payload(env: Mapping[str, str]) -> dict[str, Any]:
    results = {job: env.get(f"{job.upper()}_RESULT", "") for job in ("tests", "staging", "production")}
    rolled_back_to = env.get("STAGING_ROLLED_BACK_TO", "")
    event = event_of(results, env.get("RELEASE_KIND", "release"), rolled_back_to)
    environment = environment_of(results)
    version = env.get("RELEASE_VERSION") or "unversioned"
    run_url = f"{env.get('GITHUB_SERVER_URL', '')}/{env.get('GITHUB_REPOSITORY', '')}/actions/runs/{env.get('GITHUB_RUN_ID', '')}"
    return {
        "event": event,
        "environment": environment,
        "version": version,
        "ref": env.get("GITHUB_REF", ""),
        "sha": env.get("GITHUB_SHA", ""),
        "run_url": run_url,
        "jobs": results,
        "text": f"dockyard {version}: {event} deploying {environment}"
        + (f", back on {rolled_back_to}" if rolled_back_to else "")
        + f" ({run_url})",
        **({"rolledBackTo": rolled_back_to} if rolled_back_to else {}),
    }


def post(url: str, body: Mapping[str, Any]) -> int:
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1:"):
        raise ValueError("the webhook URL must be https:// (or a loopback http:// one, for tests)")
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "dockyard-deploy"},
    )
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # nosec B310 -- scheme checked just above
        status: int = response.status
        return status


def main() -> int:
    body = payload(os.environ)
    print(json.dumps(body, indent=2))
    url = os.environ.get("DEPLOY_WEBHOOK_URL", "")
    if not url:
        print("notify: no DEPLOY_WEBHOOK_URL secret set; nothing posted")
        return 0
    try:
        status = post(url, body)
    except (OSError, ValueError) as exc:  # urllib's errors are OSErrors
        print(f"notify: the webhook refused the notification: {exc}", file=sys.stderr)
        return 1
    print(f"notify: posted {body['event']} ({status})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
