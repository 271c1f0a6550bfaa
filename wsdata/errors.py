"""Errors that end a command with one line and exit status 2 (no traceback), and the OS errors that
stop a build rather than reject a document."""

from __future__ import annotations

import errno

# OSErrors that are this machine's, not a document's: a full disk or quota. A stage lets them
# through, so the build stops with one line (wsdata/cli.py) instead of rejecting good documents.
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class BuildError(RuntimeError):
    """A problem with the build as a whole (bad paths, an output folder of another build, no engine)."""
