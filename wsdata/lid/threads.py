"""CPU threads for the audio-LID model in this process, set by the engines before any model loads.

Kept apart from wsdata/lid/audio.py so an engine can set it without importing a model runtime."""

from __future__ import annotations

_THREADS = 0  # 0 = the backend's default


def set_threads(n: int) -> None:
    global _THREADS
    _THREADS = max(0, n)


def threads() -> int:
    return _THREADS
