"""A failed image build, condensed: which image, the failing step and its last lines, read from
the `pulumi up`/`preview` output the driver passes through (scripts/dockyard.py). The docker-build
provider reports a failed build as one line ("failed to solve: process … did not complete
successfully: exit code: 2"); the step's own output went by earlier among the progress lines, and
in a terminal's interactive display it is not kept at all."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

IMAGE_TYPE = "docker-build:index:Image"
LAST_LINES = 15
# `<op> docker-build:index:Image <name> <status> (<secs>) [diff: …]; #12 <BuildKit progress>`
_PROGRESS = re.compile(rf"{re.escape(IMAGE_TYPE)} (?P<image>\S+) .*?(?:; | )#(?P<step>\d+) (?P<text>.*)$")
_OUTPUT = re.compile(r"^\d+\.\d+ (?P<line>.*)$")  # a step's own output: "0.204 text"
_FAILED = re.compile(rf"{re.escape(IMAGE_TYPE)} (?P<image>\S+) \*\*(?:creating|updating) failed\*\*")
_ERROR = re.compile(r"error: (?P<error>failed to solve: .*?)\s*$")


@dataclass
class Step:
    title: str = ""
    lines: list[str] = field(default_factory=list)
    finished: bool = False


@dataclass
class ImageBuild:
    steps: dict[str, Step] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)  # step ids, in the order they began
    error: str = ""
    failed: bool = False

    def failing_step(self) -> Step | None:
        """The step BuildKit was running when the build failed: the last one begun and not done."""
        for step_id in reversed(self.started):
            if not self.steps[step_id].finished:
                return self.steps[step_id]
        return self.steps[self.started[-1]] if self.started else None


class BuildFailures:
    """Fed every output line of one pulumi command; `summary()` then says each failed build once."""

    def __init__(self) -> None:
        self.images: dict[str, ImageBuild] = {}

    def feed(self, line: str) -> None:
        if IMAGE_TYPE not in line:
            return
        if failed := _FAILED.search(line):
            self.images.setdefault(failed["image"], ImageBuild()).failed = True
        if progress := _PROGRESS.search(line):
            build = self.images.setdefault(progress["image"], ImageBuild())
            step_id, text = progress["step"], progress["text"].strip()
            step = build.steps.setdefault(step_id, Step())
            if text.startswith("[") and not step.title:
                step.title = text
                build.started.append(step_id)
            elif text in ("DONE", "CACHED") or text.startswith("DONE "):
                step.finished = True
            elif output := _OUTPUT.match(text):
                step.lines.append(output["line"])
        if error := _ERROR.search(line):
            for name, build in self.images.items():
                if f" {name} " in line or line.rstrip().endswith(name):
                    build.error = build.error or error["error"]

    def summary(self) -> list[str]:
        said = []
        for name, build in self.images.items():
            if not build.failed:
                continue
            step = build.failing_step()
            lines = [f"the image {name} did not build" + (f": {build.error}" if build.error else "")]
            if step is not None:
                lines.append(f"  failing step: {step.title}")
                if step.lines:
                    lines.append("  its last lines:")
                    lines += [f"    | {text}" for text in step.lines[-LAST_LINES:]]
                else:
                    lines.append("  it printed nothing")
            said.append("\n".join(lines))
        return said
