"""The pipeline's gates, run on fixtures: the dependency-audit gate (pip-audit and npm audit reports,
judged with the image scan's threshold), the benchmark regression check, release versions for
releases and candidates, and the deployment notification posted to a local HTTP server."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench import check as bench_check
from pipeline import audit_gate, notify, release_version

from .conftest import PROJECT_DIR

FIXTURES = Path(__file__).parent / "fixtures"


def gate(*reports: str, severity: str = "CRITICAL", ignore_unfixed: str = "true") -> int:
    return audit_gate.main(
        ["--severity", severity, "--ignore-unfixed", ignore_unfixed, *(str(FIXTURES / r) for r in reports)]
    )


# --- dependency audit -------------------------------------------------------------------------------


def test_clean_reports_pass() -> None:
    assert gate("pip-audit-clean.json", "npm-audit-clean.json") == 0


def test_a_critical_npm_advisory_with_a_fix_fails() -> None:
    assert gate("pip-audit-clean.json", "npm-audit-critical.json") == 1


def test_high_and_unfixed_critical_pass_as_trivy_would_with_ignore_unfixed(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate("npm-audit-high-and-unfixed-critical.json") == 0
    out = capsys.readouterr().out
    assert "note  npm-audit-high-and-unfixed-critical.json: left-pad" in out and "no fix yet" in out


def test_without_ignore_unfixed_the_unfixed_critical_fails() -> None:
    assert gate("npm-audit-high-and-unfixed-critical.json", ignore_unfixed="false") == 1


def test_a_lower_threshold_catches_the_high_one() -> None:
    assert gate("npm-audit-high-and-unfixed-critical.json", severity="HIGH") == 1


def test_an_npm_entry_vulnerable_only_through_another_is_not_counted_twice() -> None:
    report = json.loads((FIXTURES / "npm-audit-high-and-unfixed-critical.json").read_text())
    assert sorted(f.package for f in audit_gate.findings_of("npm", report)) == ["left-pad", "postcss"]


def test_a_python_advisory_has_no_severity_so_it_counts_at_the_threshold_when_fixable() -> None:
    assert gate("pip-audit-fixed.json") == 1
    assert gate("pip-audit-unfixed.json") == 0  # listed, like trivy's unfixed CVEs


def test_a_report_that_is_neither_format_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "trivy.json"
    bad.write_text('{"Results": []}')
    assert audit_gate.main(["--severity", "CRITICAL", "--ignore-unfixed", "true", str(bad)]) == 2
    assert "neither a pip-audit report" in capsys.readouterr().err


def test_a_missing_report_fails_rather_than_passing(tmp_path: Path) -> None:
    assert audit_gate.main(["--severity", "CRITICAL", "--ignore-unfixed", "true", str(tmp_path / "none.json")]) == 2


def _trivy_step(workflows: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (step,) = [
        s
        for s in workflows["scan.yml"]["jobs"]["images"]["steps"]
        if str(s.get("uses", "")).startswith("aquasecurity/trivy-action@")
    ]
    return step


def test_the_dependency_gate_uses_the_image_gates_threshold(workflows: dict[str, dict[str, Any]]) -> None:
    trivy = _trivy_step(workflows)["with"]
    job = workflows["scan.yml"]["jobs"]["dependencies"]
    (gate_step,) = [s for s in job["steps"] if "pipeline.audit_gate" in str(s.get("run", ""))]
    assert gate_step["env"]["SEVERITY"] == trivy["severity"]
    assert gate_step["env"]["IGNORE_UNFIXED"] == str(trivy["ignore-unfixed"]).lower()
    run = "\n".join(str(s.get("run", "")) for s in job["steps"])
    for lock in ("requirements.txt", "policy/requirements.txt", "apps/backend/requirements.lock"):
        assert f"-r {lock}" in run, lock
    for folder in ("apps/frontend", "testing/axe"):
        assert f"cd {folder} && npm audit --json --package-lock-only" in run, folder
        assert (PROJECT_DIR / folder / "package-lock.json").is_file()
    assert "dependencies" in workflows["scan.yml"]["jobs"]["sign"]["needs"]


# --- benchmark regressions ----------------------------------------------------------------------------


def _images(size: float, cold: float) -> dict[str, Any]:
    return {
        "apps": [
            {
                "app": "backend",
                "size_mb": size,
                "registry_mb": 35.1,
                "cold_build_s": cold,
                "no_change_build_s": 0.2,
                "one_file_changed_build_s": 3.3,
            }
        ]
    }


def _stack(ratio: float) -> dict[str, Any]:
    return {"rows": [{"operation": "up cold", "ratio": ratio}, {"operation": "preview (no changes)", "ratio": None}]}


@pytest.fixture
def bench_dirs(tmp_path: Path) -> tuple[Path, Path]:
    results, baseline = tmp_path / "results", tmp_path / "baseline"
    results.mkdir()
    baseline.mkdir()
    (baseline / "images.json").write_text(json.dumps(_images(100.0, 16.0)))
    (baseline / "stack.json").write_text(json.dumps(_stack(2.0)))
    return results, baseline


@pytest.mark.parametrize(
    ("images", "stack", "status"),
    [
        (_images(104.9, 16.0), _stack(2.0), 0),  # +4.9 MB: within 5 % + 2 MB (107 MB)
        (_images(107.1, 16.0), _stack(2.0), 1),  # past 107 MB
        (_images(100.0, 28.9), _stack(2.0), 0),  # builds: 16 * 1.5 + 5 = 29 s
        (_images(100.0, 29.1), _stack(2.0), 1),
        (_images(100.0, 16.0), _stack(2.64), 0),  # ratio: 2 * 1.25 + 0.15 = 2.65
        (_images(100.0, 16.0), _stack(2.66), 1),
        (_images(80.0, 10.0), _stack(1.5), 0),  # an improvement is no regression
    ],
)
def test_a_regression_beyond_tolerance_fails(
    bench_dirs: tuple[Path, Path], images: dict[str, Any], stack: dict[str, Any], status: int
) -> None:
    results, baseline = bench_dirs
    (results / "images.json").write_text(json.dumps(images))
    (results / "stack.json").write_text(json.dumps(stack))
    assert bench_check.main(["--results", str(results), "--baseline", str(baseline)]) == status


def test_missing_results_are_skipped_and_a_missing_baseline_fails(bench_dirs: tuple[Path, Path]) -> None:
    results, baseline = bench_dirs
    assert bench_check.main(["--results", str(results), "--baseline", str(baseline)]) == 0
    (results / "images.json").write_text(json.dumps(_images(100.0, 16.0)))
    (baseline / "images.json").unlink()
    assert bench_check.main(["--results", str(results), "--baseline", str(baseline)]) == 1


def test_a_results_file_of_the_wrong_shape_fails(
    bench_dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    results, baseline = bench_dirs
    (results / "stack.json").write_text('{"pulumi": {}}')
    assert bench_check.main(["--results", str(results), "--baseline", str(baseline)]) == 1
    assert "has no `rows` list" in capsys.readouterr().out


def test_record_makes_the_latest_results_the_baseline(bench_dirs: tuple[Path, Path]) -> None:
    results, baseline = bench_dirs
    (results / "stack.json").write_text(json.dumps(_stack(3.0)))
    assert bench_check.main(["--results", str(results), "--baseline", str(baseline), "--record"]) == 0
    assert json.loads((baseline / "stack.json").read_text()) == _stack(3.0)


def test_the_checked_in_baseline_is_readable_by_the_check() -> None:
    for name in bench_check.FILES:
        document = json.loads((bench_check.BASELINE_DIR / name).read_text())
        assert bench_check.compare(name, document, document), name


def test_bench_workflow_runs_bench_then_bench_check(workflows: dict[str, dict[str, Any]]) -> None:
    wf = workflows["bench.yml"]
    assert {"push", "schedule", "workflow_dispatch"} <= set(wf["on"])
    runs = [s["run"] for s in wf["jobs"]["bench"]["steps"] if "run" in s]
    assert runs.index("make bench") < runs.index("make bench-check")


# --- release versions ------------------------------------------------------------------------------

TAGS = ["v0.9.0", "v1.0.0", "v1.0.1", "v1.0.2-rc.1", "v1.0.2-rc.2", "v1.1.0-rc.1", "not-a-version"]


@pytest.mark.parametrize(
    ("ref", "version", "kind"),
    [
        ("refs/heads/main", "1.0.2", "release"),
        ("refs/heads/release/1.0", "1.0.2-rc.3", "candidate"),
        ("refs/heads/release/1.1", "1.1.0-rc.2", "candidate"),
        ("refs/heads/release/2.0", "2.0.0-rc.1", "candidate"),
        ("refs/tags/v1.0.0", "1.0.0", "rollback"),
        ("refs/tags/v1.0.1", "1.0.1", "release"),
    ],
)
def test_releases_and_candidates_follow_one_rule(ref: str, version: str, kind: str) -> None:
    release = release_version.release_for(ref, "0123456789abcdef", TAGS, "1.0\n")
    assert (release.version, release.kind) == (version, kind)
    assert release.tag == f"v{version}" and release.image_tag == f"{version}-0123456"


def test_the_candidates_of_a_release_carry_the_version_main_releases_next() -> None:
    main = release_version.release_for("refs/heads/main", "a" * 40, TAGS, "1.0")
    candidate = release_version.release_for("refs/heads/release/1.0", "a" * 40, TAGS, "1.0")
    assert candidate.version.startswith(f"{main.version}-rc.")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("refs/heads/feature/x", "releases come from refs/heads/main"),
        ("refs/heads/release/one", "is not a release series"),
        ("refs/tags/v9.9.9", "only a release tag that exists"),
    ],
)
def test_a_ref_that_releases_nothing_is_refused_clearly(ref: str, message: str) -> None:
    with pytest.raises(release_version.VersionError, match=message):
        release_version.release_for(ref, "a" * 40, TAGS, "1.0")


def test_the_command_prints_github_outputs(tmp_path: Path) -> None:
    tags = tmp_path / "tags"
    tags.write_text("\n".join(TAGS))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.release_version",
            "--ref",
            "refs/heads/release/1.0",
            "--sha",
            "f" * 40,
            "--tags",
            str(tags),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        timeout=60,
        check=True,
    ).stdout
    assert out.splitlines() == [
        "version=1.0.2-rc.3",
        "tag=v1.0.2-rc.3",
        "image_tag=1.0.2-rc.3-fffffff",
        "kind=candidate",
    ]


def test_version_file_is_a_series() -> None:
    assert release_version.parse_series(release_version.VERSION_FILE.read_text(), "VERSION")


# --- deployment notification -------------------------------------------------------------------------


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Recorder.received.append((dict(self.headers), json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Recorder.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


RUN_ENV = {
    "GITHUB_SERVER_URL": "https://github.example",
    "GITHUB_REPOSITORY": "team/dockyard",
    "GITHUB_RUN_ID": "42",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_SHA": "c" * 40,
    "RELEASE_VERSION": "1.0.2",
}


@pytest.mark.parametrize(
    ("results", "kind", "event", "environment"),
    [
        (
            {"TESTS_RESULT": "success", "STAGING_RESULT": "success", "PRODUCTION_RESULT": "success"},
            "release",
            "success",
            "prod",
        ),
        (
            {"TESTS_RESULT": "success", "STAGING_RESULT": "success", "PRODUCTION_RESULT": "skipped"},
            "release",
            "success",
            "staging",
        ),
        (
            {"TESTS_RESULT": "success", "STAGING_RESULT": "success", "PRODUCTION_RESULT": "failure"},
            "release",
            "failure",
            "prod",
        ),
        (
            {"TESTS_RESULT": "failure", "STAGING_RESULT": "skipped", "PRODUCTION_RESULT": "skipped"},
            "release",
            "failure",
            "staging",
        ),
        (
            {"TESTS_RESULT": "success", "STAGING_RESULT": "cancelled", "PRODUCTION_RESULT": "skipped"},
            "release",
            "failure",
            "staging",
        ),
        (
            {"TESTS_RESULT": "success", "STAGING_RESULT": "success", "PRODUCTION_RESULT": "success"},
            "rollback",
            "rollback",
            "prod",
        ),
        (
            {"TESTS_RESULT": "success", "STAGING_RESULT": "failure", "PRODUCTION_RESULT": "skipped"},
            "rollback",
            "failure",
            "staging",
        ),
    ],
)
def test_the_notification_reaches_the_webhook(
    webhook: str, results: dict[str, str], kind: str, event: str, environment: str
) -> None:
    env = {**os.environ, **RUN_ENV, **results, "RELEASE_KIND": kind, "DEPLOY_WEBHOOK_URL": webhook}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.notify"], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ((headers, body),) = _Recorder.received
    assert headers["Content-Type"] == "application/json"
    assert body["event"] == event and body["environment"] == environment
    assert body["version"] == "1.0.2" and body["sha"] == "c" * 40 and body["ref"] == "refs/heads/main"
    assert body["run_url"] == "https://github.example/team/dockyard/actions/runs/42"
    assert body["jobs"] == {
        "tests": results["TESTS_RESULT"],
        "staging": results["STAGING_RESULT"],
        "production": results["PRODUCTION_RESULT"],
    }
    assert event in body["text"] and "1.0.2" in body["text"]


def test_a_release_the_staging_job_rolled_back_is_notified_as_a_rollback_naming_the_revision(webhook: str) -> None:
    results = {"TESTS_RESULT": "success", "STAGING_RESULT": "failure", "PRODUCTION_RESULT": "skipped"}
    env = {**os.environ, **RUN_ENV, **results, "RELEASE_KIND": "release", "DEPLOY_WEBHOOK_URL": webhook,
           "STAGING_ROLLED_BACK_TO": "b" * 40}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.notify"], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    ((_, body),) = _Recorder.received
    assert body["event"] == "rollback" and body["environment"] == "staging"
    assert body["rolledBackTo"] == "b" * 40 and "b" * 40 in body["text"]


def test_the_staging_job_rolls_a_failed_release_back_with_the_same_up() -> None:
    """The rollback the real tier runs (tests/real/test_cluster_stacks.py, test_3b): read the
    stack's `revision` before the deploy; on failure check it out and run the same `up`."""
    steps = yaml.safe_load((PROJECT_DIR / ".github/workflows/deploy.yml").read_text())["jobs"]["staging"]["steps"]
    by_id = {step.get("id"): step for step in steps if step.get("id")}
    assert "pulumi stack output revision --stack staging" in by_id["last-good"]["run"]
    up, rollback = by_id["up"], by_id["rollback"]
    assert rollback["uses"] == up["uses"]
    # The same inputs, but the CLI version: the release checked out may predate .pulumi.version,
    # so the rollback takes the version read (from that file) before the checkout.
    version_source = {"pulumi-version-file", "pulumi-version"}
    same = {k: v for k, v in up["with"].items() if k not in version_source | {"message"}}
    assert {k: v for k, v in rollback["with"].items() if k not in version_source | {"message"}} == same
    assert up["with"]["pulumi-version-file"] == ".pulumi.version"
    assert rollback["with"]["pulumi-version"] == "${{ steps.pulumi-cli.outputs.version }}"
    assert by_id["pulumi-cli"]["run"].count(".pulumi.version") == 1
    assert steps.index(by_id["pulumi-cli"]) < steps.index(rollback) - 1  # before the checkout
    checkout = steps[steps.index(rollback) - 1]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["ref"] == "${{ steps.last-good.outputs.revision }}"
    for step in (checkout, rollback):
        assert "steps.up.outcome == 'failure'" in step["if"] and "failure()" in step["if"]


def test_no_webhook_configured_posts_nothing_and_passes() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DEPLOY_WEBHOOK_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.notify"],
        env={**env, **RUN_ENV},
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "nothing posted" in done.stdout


def test_a_webhook_that_fails_fails_the_step(webhook: str) -> None:
    env = {**os.environ, **RUN_ENV, "DEPLOY_WEBHOOK_URL": webhook.rsplit(":", 1)[0] + ":1/hook"}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.notify"], env=env, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "refused the notification" in done.stderr


def test_a_plain_http_webhook_off_loopback_is_refused() -> None:
    with pytest.raises(ValueError, match="must be https://"):
        notify.post("http://hooks.example/x", {"event": "success"})
