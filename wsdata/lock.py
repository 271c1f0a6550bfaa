"""One writer per output folder: an exclusive `flock` on a lock file inside it, held for the whole
command.

Two builds into one `--out` would each take the other's chunks for done, overwrite each other's
shards and count the folder twice; a second build, import, score or export that would write where
another is writing stops at once (exit 2) and names the holder's PID. The lock is the kernel's, on
the open file: it goes when the holder's process ends, however it ends (SIGKILL included), so it is
never stale. The PID written into the file is only for that message. Readers (`wsdata stats`,
`review --report`) and the review server's verdict writes (their own lock on verdicts.jsonl) take
no lock.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from wsdata.errors import BuildError

# Lock files this thread holds -> nesting depth (an import holds OUT, then builds it). Per thread:
# a second thread of the process opens the file again, and flock refuses it as it would a process.
_local = threading.local()


def _held() -> dict[str, int]:
    if not hasattr(_local, "held"):
        _local.held = {}
    return _local.held


class FolderBusy(BuildError):
    """Another process writes to the folder; the message names its PID."""


def _holder(fd: int) -> str:
    """The PID the holder wrote into the lock file, as text, or "" when unreadable (the holder has
    only just taken the lock and not written it yet)."""
    pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return pid if pid.isdigit() else ""


@contextmanager
def hold(lock: Path, folder: Path, remove: bool = False) -> Iterator[None]:
    """Hold the exclusive lock `lock` (a file in `folder`, created with its parents) while the block
    runs, or raise FolderBusy at once when another process (or thread) holds it. Nested holds in
    one thread share the first. `remove`: delete the file when done (a folder handed to the user, as
    `wsdata export`'s, keeps no trace); a build's lock file stays, as it must for the lock to hold
    across processes that open it at any time."""
    key, held = str(lock.resolve()), _held()
    if key in held:
        held[key] += 1
        try:
            yield
        finally:
            held[key] -= 1
        return
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by workers (O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            pid = _holder(fd)
            raise FolderBusy(
                f"{folder} is in use by another wsdata command (PID {pid or 'unknown'}); "
                "wait for it to end, or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        held[key] = 1
        try:
            yield
        finally:
            del held[key]
            if remove:
                lock.unlink(missing_ok=True)  # before the unlock: no one can take this one meanwhile
    finally:
        os.close(fd)  # releases the flock
