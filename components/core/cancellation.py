"""A cancelled program ends quietly. When an update fails (a build, a container) or is
interrupted, the Pulumi engine cancels the program and the language host sends it SIGINT; the
program's registrations still in flight then fail ("Resource monitor has terminated") and Python
prints a KeyboardInterrupt traceback of the SDK's internals under the real error, on every
failure. Nothing is left for the program to do by then: it exits at once, and the engine's own
message stands alone."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

CANCELLED_EXIT_CODE = 130  # 128 + SIGINT, as a shell reports it


LANGUAGE_HOST_EXECUTOR = "pulumi-language-python-exec"  # the script the language host runs the program with


def _run_by_language_host() -> bool:
    """Whether the language host's executor script runs this process: the outermost frame is
    its (it sets sys.argv to the program's, so argv cannot tell)."""
    frame = sys._getframe()
    while frame.f_back is not None:
        frame = frame.f_back
    return os.path.basename(frame.f_code.co_filename) == LANGUAGE_HOST_EXECUTOR


def exit_quietly_when_cancelled() -> None:
    """In the language host's process only: a test that runs the program in its own process
    (the unit tier's mocks) keeps its own Ctrl-C."""
    if not _run_by_language_host():
        return

    def _exit(signum: int, frame: FrameType | None) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(CANCELLED_EXIT_CODE)  # no unwinding: the SDK's pending tasks would print tracebacks

    signal.signal(signal.SIGINT, _exit)
