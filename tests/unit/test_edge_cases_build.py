"""A failed image build, condensed by the driver (scripts/build_failures.py) from `pulumi up`'s
output: the image, BuildKit's error, the failing step and its last lines. The lines below are a
real run's (the docker-build provider 0.0.22 under the CLI's line display, a RUN step that fails);
tests/real/test_edge_cases.py runs one."""

from __future__ import annotations

import sys

from testing.harness import PROJECT_DIR

sys.path.insert(0, str(PROJECT_DIR / "scripts"))
from build_failures import BuildFailures  # noqa: E402  (scripts/ is not a package)

ROW = " ~  docker-build:index:Image backend-image updating (0s) [diff: ~contextHash,tags]; "
ERROR = 'error: failed to solve: process "/bin/sh -c echo \\"first\\" && ls /nope" did not complete successfully: exit code: 2'
RUN = [
    " +  docker-build:index:Image frontend-image creating (7s) #4 [runtime 1/2] FROM base",
    " +  docker-build:index:Image frontend-image creating (7s) #4 DONE 0.1s",
    ROW + "#9 [builder 2/8] WORKDIR /app",
    ROW + "#9 CACHED",
    ROW + '#10 [builder 3/8] RUN echo "first" && ls /nope',
    ROW + "#11 [builder 4/8] COPY requirements.lock .",  # begun alongside, and done
    ROW + "#11 DONE 0.0s",
    ROW + "#10 0.204 first",
    ROW + "#10 0.210 ls: cannot access '/nope': No such file or directory",
    ROW + ERROR,
    " ~  docker-build:index:Image backend-image **updating failed** [diff: ~contextHash,tags]; " + ERROR,
    "Diagnostics:",
    "  docker-build:index:Image (backend-image):",
    "    " + ERROR,
]


def fed(lines: list[str]) -> BuildFailures:
    failures = BuildFailures()
    for line in lines:
        failures.feed(line)
    return failures


def test_the_failed_image_its_step_and_last_lines_are_said_once():
    (said,) = fed(RUN).summary()
    assert said.splitlines() == [
        "the image backend-image did not build: " + ERROR.removeprefix("error: "),
        '  failing step: [builder 3/8] RUN echo "first" && ls /nope',
        "  its last lines:",
        "    | first",
        "    | ls: cannot access '/nope': No such file or directory",
    ]


def test_a_build_that_did_not_fail_is_not_said():
    assert fed(RUN[:8]).summary() == []  # the frontend built; the backend's failure line never came


def test_a_step_that_printed_nothing_says_so():
    (said,) = fed([ROW + "#10 [builder 3/8] RUN false", RUN[-4]]).summary()
    assert said.endswith("failing step: [builder 3/8] RUN false\n  it printed nothing")
