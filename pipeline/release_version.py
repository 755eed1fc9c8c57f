"""Release versions, one rule for releases and release candidates (the deploy workflow).

The series X.Y comes from `VERSION` on main and from the branch name on `release/X.Y`. The patch is
one past the highest final tag `vX.Y.Z` already pushed (0 when there is none):

- a deploy from main releases `vX.Y.Z` (images.tag `X.Y.Z-<sha7>`, tagged after prod is up);
- a push to `release/X.Y` tags the candidate `vX.Y.Z-rc.N`, N one past that patch's last candidate.

So the candidates of a release carry the very version main's next deploy of that series will tag.
A manual deploy of an existing release tag older than the newest is a rollback (the notification
says so).

    python -m pipeline.release_version --ref "$GITHUB_REF" --sha "$GITHUB_SHA" [--tags FILE]
prints `version=…`, `tag=…`, `image_tag=…`, `kind=release|candidate|rollback` for $GITHUB_OUTPUT.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
VERSION_FILE = PROJECT_DIR / "VERSION"
SERIES = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)$")
FINAL = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
CANDIDATE = re.compile(r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)-rc\.([1-9]\d*)$")
RELEASE_BRANCH = "refs/heads/release/"


class VersionError(ValueError):
    """A ref or series this rule does not release from."""


@dataclass(frozen=True)
class Release:
    version: str  # X.Y.Z or X.Y.Z-rc.N
    kind: str  # release | candidate | rollback
    sha: str

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def image_tag(self) -> str:
        return f"{self.version}-{self.sha[:7]}"


def parse_series(text: str, where: str) -> tuple[int, int]:
    match = SERIES.match(text.strip())
    if not match:
        raise VersionError(f"{where}: {text.strip()!r} is not a release series; write MAJOR.MINOR, e.g. 1.4")
    return int(match[1]), int(match[2])


def next_patch(series: tuple[int, int], tags: Iterable[str]) -> int:
    patches = [int(m[3]) for t in tags if (m := FINAL.match(t)) and (int(m[1]), int(m[2])) == series]
    return max(patches) + 1 if patches else 0


def next_candidate(series: tuple[int, int], patch: int, tags: Iterable[str]) -> int:
    numbers = [
        int(m[4]) for t in tags if (m := CANDIDATE.match(t)) and (int(m[1]), int(m[2]), int(m[3])) == (*series, patch)
    ]
    return max(numbers) + 1 if numbers else 1


def _key(tag: str) -> tuple[int, int, int]:
    match = FINAL.match(tag)
    if match is None:
        raise VersionError(f"{tag!r} is not a release tag vX.Y.Z")
    return int(match[1]), int(match[2]), int(match[3])


def release_for(ref: str, sha: str, tags: Iterable[str], main_series: str) -> Release:
    tags = list(tags)
    if ref.startswith(RELEASE_BRANCH):
        series = parse_series(ref.removeprefix(RELEASE_BRANCH), f"branch {ref}")
        patch = next_patch(series, tags)
        rc = next_candidate(series, patch, tags)
        return Release(f"{series[0]}.{series[1]}.{patch}-rc.{rc}", "candidate", sha)
    if ref.startswith("refs/tags/"):
        tag = ref.removeprefix("refs/tags/")
        finals = [t for t in tags if FINAL.match(t)]
        if tag not in finals:
            raise VersionError(
                f"{ref}: deploy by hand only a release tag that exists (vX.Y.Z); found {sorted(finals)[-5:]}"
            )
        newest = max(finals, key=_key)
        return Release(tag.removeprefix("v"), "rollback" if _key(tag) < _key(newest) else "release", sha)
    if ref == "refs/heads/main":
        series = parse_series(main_series, str(VERSION_FILE.name))
        return Release(f"{series[0]}.{series[1]}.{next_patch(series, tags)}", "release", sha)
    raise VersionError(f"{ref}: releases come from refs/heads/main, release/X.Y branches or a vX.Y.Z tag")


def git_tags() -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "tag", "--list", "v*"],  # nosec B603 B607 -- git from PATH, fixed argv
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.split()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.release_version", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--ref", required=True, help="GITHUB_REF: refs/heads/main, refs/heads/release/X.Y or refs/tags/vX.Y.Z"
    )
    parser.add_argument("--sha", required=True)
    parser.add_argument("--tags", type=Path, help="a file of tags, one a line (default: git tag --list 'v*')")
    args = parser.parse_args(argv)
    tags = args.tags.read_text().split() if args.tags else git_tags()
    try:
        release = release_for(args.ref, args.sha, tags, VERSION_FILE.read_text())
    except VersionError as exc:
        print(f"release version: {exc}", file=sys.stderr)
        return 2
    print(f"version={release.version}\ntag={release.tag}\nimage_tag={release.image_tag}\nkind={release.kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
