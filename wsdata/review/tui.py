"""`wsdata review DIR`: one queue item at a time in the terminal, a key per verdict.

The session starts at the first item nobody has judged yet, so a reviewer who quits, is killed or
is interrupted with Ctrl-C picks up where the queue stands, and passes over items other reviewers
(terminals, browsers: wsdata/review/web.py) judge meanwhile; every verdict is on disk (synced) the
moment its key is pressed (wsdata/review/verdicts.py).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from wsdata.hashing import file_stem
from wsdata.io.audio import AudioError
from wsdata.layout import Layout
from wsdata.review import clip
from wsdata.review import verdicts as vd
from wsdata.review.sample import item_cues, item_evidence, read_queue
from wsdata.terminal import safe

KEYS = {"y": "right", "n": "wrong", "u": "unsure"}
HELP = "[y] right  [n] wrong  [u] unsure  [m] note  [p] play  [w] write WAV  [s] skip  [q] quit"
PLAYERS = (["ffplay", "-nodisp", "-autoexit", "-loglevel", "quiet"], ["aplay", "-q"], ["paplay"], ["afplay"])


def load_queue(out: Path) -> list[dict[str, Any]]:
    """The review queue of build folder `out`, in queue order (sample.QueueError when it is none)."""
    return sorted(read_queue(Layout(out).queue).to_pylist(), key=lambda r: r["position"])


def clip_samples(item: dict[str, Any], acc: clip.Access) -> np.ndarray:
    """The item's audio as 16 kHz int16, at most 30 s: the kept segment's FLAC, or the span cut from
    the source where the build's roots and checks allow it to be opened (clip.NoAudio otherwise)."""
    if item["audio_flac"]:
        return clip.flac_samples(item["audio_flac"])
    return clip.excerpt(item, acc)


def write_wav(item: dict[str, Any], path: Path, acc: clip.Access) -> Path:
    """The item's clip as a WAV at `path`, written beside it and renamed over it: a link planted at
    that name in a build folder from someone else is replaced, never written through."""
    import soundfile as sf

    from wsdata.io import atomic

    samples = clip_samples(item, acc)  # before the folder is made: no clips/ for an item without audio
    with atomic.atomic_path(path, unique=True) as tmp:
        sf.write(tmp, samples, 16000, format="WAV", subtype="PCM_16")
    return path


def find_player(override: str | None) -> list[str] | None:
    if override:
        return override.split()
    for cmd in PLAYERS:
        if shutil.which(cmd[0]):
            return list(cmd)
    return None


def play(item: dict[str, Any], player: list[str] | None, acc: clip.Access) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        wav = write_wav(item, Path(tmp) / "clip.wav", acc)
        if player:
            subprocess.run([*player, str(wav)], check=False)
            return "played"
        try:  # pydub's playback: simpleaudio or pyaudio when installed
            import warnings

            with warnings.catch_warnings():  # pydub warns about a missing ffmpeg/player: the message below says it
                warnings.simplefilter("ignore")
                from pydub import AudioSegment
                from pydub.playback import play as pydub_play

                pydub_play(AudioSegment.from_wav(wav))
            return "played"
        except Exception as e:  # noqa: BLE001 - no way to play: say so, the WAV key still works
            return f"no audio player (install ffplay, aplay or paplay, or use [w]): {type(e).__name__}"


MAX_TEXT = 600  # characters of a text shown; a rejected document's whole transcript would scroll the item away


def _wrapped(label: str, text: str, limit: int) -> list[str]:
    """`text` under a 10-column label, wrapped at word boundaries to the terminal's width and cut at
    `limit` characters (saying how many more there are)."""
    import textwrap

    if len(text) > limit:
        text = text[:limit] + f" … ({len(text) - limit} more characters)"
    width = max(40, shutil.get_terminal_size((100, 24)).columns - 1)
    lines = textwrap.wrap(text, width - 10, break_long_words=True, break_on_hyphens=False) or [""]
    return [f"{label:<10}{lines[0]}\n"] + [f"{'':<10}{line}\n" for line in lines[1:]]


def show(item: dict[str, Any], i: int, n: int, out: TextIO) -> None:
    """One queue item on the terminal; every crawled string goes through `terminal.safe`."""
    reason = f" · {safe(item['reason'])}" if item["reason"] else ""
    head = f" item {i + 1}/{n} · {safe(item['decision'])}{reason} "
    out.write("\n" + head.center(78, "─") + "\n")
    out.write(f"source    {safe(item['source'] or '-')}\n")
    out.write(f"document  {safe(item['doc_id'] or '-')}   segment {safe(item['segment_id'] or '-')}\n")
    if item["start_ms"] is not None:
        span = f"{item['start_ms'] / 1000:.2f}-{(item['end_ms'] or 0) / 1000:.2f} s"
        out.write(f"span      {span} of {safe(item['audio_uri'] or 'the source')}\n")
    if item["detail"]:
        out.writelines(_wrapped("detail", safe(item["detail"]), MAX_TEXT))
    ev = item_evidence(item)
    flat = {k: v for k, v in ev.items() if v is not None and not isinstance(v, dict)}
    shown = (f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(flat.items()))
    out.writelines(_wrapped("evidence", safe("  ".join(shown)), MAX_TEXT))
    out.writelines(_wrapped("text", safe(item["text"] or "(none)"), MAX_TEXT))
    out.writelines(
        f"  {c['start_ms'] / 1000:6.2f}-{c['end_ms'] / 1000:6.2f}  {safe(c['text'])}\n" for c in item_cues(item)[:12]
    )
    out.write(HELP + "\n")
    out.flush()


@contextlib.contextmanager
def _keys(stream: TextIO) -> Iterator[None]:
    """On a terminal, single keys without Enter or echo for the whole session (cbreak mode, and Ctrl-C
    read as a key, so it stops the session even where SIGINT is ignored); set once, so keys typed
    ahead are kept, and restored on the way out."""
    if not stream.isatty():
        yield
        return
    import termios
    import tty

    fd = stream.fileno()
    old = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)
    mode = termios.tcgetattr(fd)
    mode[3] &= ~termios.ISIG  # lflag
    termios.tcsetattr(fd, termios.TCSANOW, mode)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, old)


def _read_key(stream: TextIO) -> str:
    """One key press on a terminal; the first character of a line otherwise."""
    if stream.isatty():
        ch = os.read(stream.fileno(), 1).decode(errors="replace")
        if ch == "\x03":
            raise KeyboardInterrupt
        if ch in ("", "\x04"):
            raise EOFError
        return ch
    line = stream.readline()
    if not line:
        raise EOFError
    return line.strip()[:1]


def run(
    out_dir: Path, reviewer: str, player: str | None = None, stdin: TextIO | None = None, stdout: TextIO | None = None
) -> int:
    stdin, stdout = stdin or sys.stdin, stdout or sys.stdout  # looked up now: a caller may have replaced them
    stdout.write(f"loading the review queue of {safe(out_dir)} ...\n")  # its audio can take seconds to read
    stdout.flush()
    queue = load_queue(out_dir)
    verdicts, skipped = vd.load_counted(out_dir)
    done = {r["item_id"] for r in verdicts}
    todo = [i for i, it in enumerate(queue) if it["item_id"] not in done]
    stdout.write(f"{len(queue)} items in the queue, {len(queue) - len(todo)} judged; reviewer {safe(reviewer)}\n")
    if skipped:
        stdout.write(f"{skipped} unreadable lines of {Layout(out_dir).verdicts.name} skipped\n")
    cmd = find_player(player)
    acc = clip.access(out_dir)  # the build's roots: a reject's source audio is opened within them
    with _keys(stdin):
        return _loop(queue, todo, out_dir, reviewer, cmd, acc, stdin, stdout)


def _loop(
    queue: list[dict[str, Any]],
    todo: list[int],
    out: Path,
    reviewer: str,
    cmd: list[str] | None,
    acc: clip.Access,
    stdin: TextIO,
    stdout: TextIO,
) -> int:
    saved = 0
    try:
        for i in todo:
            if queue[i]["item_id"] in vd.judged(out):
                continue  # judged meanwhile by another reviewer (a browser, another terminal)
            item, note = queue[i], ""
            show(item, i, len(queue), stdout)
            while True:
                key = _read_key(stdin).lower()
                if key in KEYS:
                    vd.append(out, item, KEYS[key], reviewer, note)
                    saved += 1
                    stdout.write(f"saved: {KEYS[key]}\n")
                    break
                if key == "m":
                    stdout.write("note: ")
                    stdout.flush()
                    note = stdin.readline().strip() if not stdin.isatty() else _read_line(stdin, stdout)
                elif key in ("p", "w"):
                    stdout.write(_audio_action(key, item, cmd, acc, out) + "\n")
                elif key == "s":
                    break
                elif key == "q":
                    stdout.write(f"stopped: {saved} verdicts saved this session\n")
                    return 0
                else:
                    stdout.write(HELP + "\n")
                stdout.flush()
        stdout.write(f"queue done: {saved} verdicts saved this session\n")
    except (KeyboardInterrupt, EOFError):
        stdout.write(f"\nstopped: {saved} verdicts saved this session; reopen to go on\n")
    stdout.flush()
    return 0


def clip_name(item_id: str) -> str:
    """A file name for an item's clip: its id made safe for any file system, at most ~100 bytes,
    with a hash of the whole id so that two long ids never share a name."""
    return f"{file_stem(item_id, keep='.-')}.wav"


def _audio_action(key: str, item: dict[str, Any], player: list[str] | None, acc: clip.Access, out: Path) -> str:
    """[p] or [w] on one item (`acc`: what the build allows to be opened); a clip that cannot be had
    is a message, and the session goes on."""
    try:
        if key == "p":
            return play(item, player, acc)
        return f"wrote {safe(write_wav(item, Layout(out).clips / clip_name(item['item_id']), acc))}"
    except clip.NoAudio as e:
        return f"no audio for this item: {e}"
    except (AudioError, ValueError, OSError, RuntimeError) as e:  # soundfile's errors are RuntimeErrors
        return f"no audio for this item: {safe(e, 200)}"


def _read_line(stdin: TextIO, stdout: TextIO) -> str:
    """A line typed in raw-mode's absence: echo each key until Enter."""
    chars: list[str] = []
    while True:
        ch = _read_key(stdin)
        if ch in ("\r", "\n"):
            stdout.write("\n")
            return "".join(chars)
        if ch in ("\x7f", "\b"):
            if chars:
                chars.pop()
                stdout.write("\b \b")
        else:
            chars.append(ch)
            stdout.write(ch)
        stdout.flush()
