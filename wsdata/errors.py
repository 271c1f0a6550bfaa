"""Errors that end a command with one line and exit status 2 (no traceback)."""

from __future__ import annotations


class BuildError(RuntimeError):
    """A problem with the build as a whole (bad paths, an output folder of another build, no engine)."""
