"""The dependency-audit gate: pip-audit's and npm audit's JSON reports judged with the image scan's
threshold (scan.yml's trivy step: `severity: CRITICAL`, `ignore-unfixed: true`, `exit-code: 1`).

A finding fails the gate when its severity is at or above the threshold and, with ignore-unfixed,
a fixed version exists. npm audit states each advisory's severity; pip-audit (PyPI's advisory
database) states none, so a Python advisory counts as at the threshold: with a fix available it
fails, without one it is listed and passes, as trivy does with an unfixed CVE.

    python -m pipeline.audit_gate --severity CRITICAL --ignore-unfixed true REPORT.json...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SEVERITIES = ("LOW", "MODERATE", "MEDIUM", "HIGH", "CRITICAL")
RANK = {"INFO": 0, "LOW": 0, "MODERATE": 1, "MEDIUM": 1, "HIGH": 2, "CRITICAL": 3}
UNKNOWN = "UNKNOWN"  # pip-audit: no severity in its report


@dataclass(frozen=True)
class Finding:
    source: str  # the report it came from
    package: str
    advisory: str
    severity: str
    fixed: bool

    def at_least(self, threshold: str) -> bool:
        return self.severity == UNKNOWN or RANK[self.severity] >= RANK[threshold]

    def line(self) -> str:
        fix = "fix available" if self.fixed else "no fix yet"
        return f"{self.source}: {self.package}: {self.advisory} ({self.severity.lower()}, {fix})"


class BadReport(ValueError):
    """A report that is neither pip-audit's nor npm audit's JSON."""


def pip_audit_findings(source: str, report: Mapping[str, Any]) -> Iterator[Finding]:
    for dependency in report.get("dependencies") or []:
        for vuln in dependency.get("vulns") or []:
            yield Finding(
                source,
                f"{dependency['name']}=={dependency.get('version', '?')}",
                vuln["id"],
                UNKNOWN,
                bool(vuln.get("fix_versions")),
            )


def npm_audit_findings(source: str, report: Mapping[str, Any]) -> Iterator[Finding]:
    for name, entry in (report.get("vulnerabilities") or {}).items():
        advisories = [v for v in entry.get("via") or [] if isinstance(v, dict)]
        # An entry whose `via` names only other packages is vulnerable through them: those are
        # reported on their own entries, so only the direct advisories are findings here.
        for advisory in advisories:
            yield Finding(
                source,
                name,
                str(advisory.get("url") or advisory.get("title") or advisory.get("source")),
                str(advisory.get("severity", entry.get("severity", "critical"))).upper(),
                entry.get("fixAvailable") not in (False, None),
            )


def findings_of(source: str, report: Any) -> list[Finding]:
    if isinstance(report, dict) and "dependencies" in report:
        return list(pip_audit_findings(source, report))
    if isinstance(report, dict) and "auditReportVersion" in report:
        return list(npm_audit_findings(source, report))
    raise BadReport(
        f"{source}: neither a pip-audit report (`dependencies`) nor an npm audit report "
        "(`auditReportVersion`): run `pip-audit -f json` / `npm audit --json`"
    )


def failing(findings: Sequence[Finding], severity: str, ignore_unfixed: bool) -> list[Finding]:
    return [f for f in findings if f.at_least(severity) and (f.fixed or not ignore_unfixed)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.audit_gate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--severity", type=str.upper, choices=SEVERITIES, required=True)
    parser.add_argument("--ignore-unfixed", choices=("true", "false"), required=True)
    parser.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args(argv)
    found: list[Finding] = []
    for path in args.reports:
        try:
            found += findings_of(path.name, json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError, BadReport) as exc:
            print(f"audit gate: {path}: {exc}", file=sys.stderr)
            return 2
    failed = failing(found, args.severity, args.ignore_unfixed == "true")
    for finding in found:
        print(("FAIL  " if finding in failed else "note  ") + finding.line())
    print(
        f"audit gate: {len(found)} advisories in {len(args.reports)} reports, {len(failed)} at or above "
        f"{args.severity}{' with a fix' if args.ignore_unfixed == 'true' else ''}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
