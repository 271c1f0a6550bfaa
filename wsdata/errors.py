"""Errors that end a command with one line and a non-zero exit status (no traceback), and the
fatal family: problems of this machine or set-up that stop a build rather than reject a document.

A stage turns an unexpected exception into a `<stage>.internal_error` reject (wsdata/stages/base.py)
so one bad file cannot stop a build. A FatalError is the exception to that rule: a model that will
not load, an optional extra that is not installed or a full disk is the same for every document,
so rejecting them all would only turn a set-up mistake into data. It passes through every stage,
out of a worker process or a Ray task (wsdata/engines/), and out of `orchestrate.build`; the CLI
prints its message on one line and exits with its `exit_code`.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

# OSErrors that are this machine's, not a document's: a full disk or quota. A stage lets them
# through, so the build stops with one line (wsdata/cli.py) instead of rejecting good documents.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class BuildError(RuntimeError):
    """A problem with the build as a whole (bad paths, an output folder of another build, no engine)."""


class FatalError(Exception):
    """Not a document's problem: the build stops. One argument, the message, so that it pickles
    unchanged across a process pool or from a Ray task."""

    exit_code = 2  # the command was wrong (a model path, an extra to install): fix it, then rerun
    resumable = False  # whether the finished part of the build stays valid for a rerun of the same command


class ModelUnavailable(FatalError):
    """A model named by the config cannot be loaded (a wrong path or id, a broken folder, no CUDA)."""


class ExtraMissing(FatalError):
    """An optional package a stage needs is not installed; the message says which extra to install."""


class DiskFull(FatalError):
    """The output's disk or quota is full: every finished chunk is on disk, so the same command
    resumes once there is room."""

    exit_code = 1
    resumable = True


def as_fatal(e: BaseException) -> FatalError | None:
    """`e` as a member of the fatal family, or None when it is a document's problem.

    - FatalError: itself;
    - wsdata.lid.audio.LidError (a model that cannot be loaded): ModelUnavailable;
    - ImportError (an optional extra imported inside a stage): ExtraMissing;
    - OSError ENOSPC / EDQUOT: DiskFull.
    """
    if isinstance(e, FatalError):
        return e
    if isinstance(e, OSError) and e.errno in MACHINE_ERRNOS:
        where = f": {e.filename}" if e.filename else ""
        return DiskFull(f"{e.strerror or e}{where}")
    if isinstance(e, ImportError):
        return ExtraMissing(str(e) or f"cannot import {e.name}")
    from wsdata.lid.audio import LidError  # here, not at the top: errors is imported everywhere, lid pulls numpy

    if isinstance(e, LidError):
        return ModelUnavailable(str(e))
    return None


def raise_fatal(e: BaseException) -> None:
    """Raise `e` as its FatalError when it belongs to the fatal family (`as_fatal`); else return."""
    fatal = as_fatal(e)
    if fatal is e:
        raise e
    if fatal is not None:
        raise fatal from e


@contextlib.contextmanager
def fatal_errors() -> Iterator[None]:
    """Re-raise a fatal-family exception of the block as its FatalError (see `as_fatal`); any other
    exception passes unchanged. Also a decorator: `@fatal_errors()`."""
    try:
        yield
    except Exception as e:
        raise_fatal(e)
        raise
