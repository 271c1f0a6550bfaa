"""The review queue as the review page sees it: progress, one item at a time, its audio, verdicts.

No HTTP here (that is wsdata/review/web.py): plain data in and out, so it is tested without a
server. Every crawled string leaves this module through `terminal.safe`, control and bidi characters
shown visibly (<U+202E>), so the page only ever shows inert text; the page adds HTML escaping (it sets
textContent) and bidi isolation (<bdi>).

The queue is read without its audio column, and re-read when the file changes (`wsdata score`
adds items); an item's FLAC is read alone when asked for (the queue's small row groups,
sample.QUEUE_ROW_GROUP, make that a few FLACs' read). Verdicts are re-read when verdicts.jsonl
changes, so terminal reviewers' and other browsers' verdicts show up at once.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections import OrderedDict
from pathlib import Path
from typing import Any

from wsdata.hashing import stable_hash
from wsdata.io.audio import encode_flac
from wsdata.layout import Layout
from wsdata.review import clip
from wsdata.review import verdicts as vd
from wsdata.review.sample import QUEUE_FIELDS, item_cues, item_evidence, read_queue
from wsdata.terminal import safe

_SUMMARY = [f for f, _ in QUEUE_FIELDS if f != "audio_flac"]
_AUDIO_CACHE = 16  # items' audio kept in memory: the one playing, and a few a reviewer goes back to
MAX_NOTE = 2000  # characters
MAX_REVIEWER = 64


class ReviewError(Exception):
    """A request the queue cannot serve; `status` is the HTTP status the page gets."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _signature(path: Path) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else safe(v)


def evidence_rows(evidence: str | None) -> list[tuple[str, str]]:
    """An item's evidence JSON as (name, value) rows; a nested object's fields as `name.field`."""
    ev = item_evidence({"evidence": evidence})
    rows = []
    for k, v in sorted(ev.items()):
        if isinstance(v, dict):
            rows += [(safe(f"{k}.{k2}"), _fmt(v2)) for k2, v2 in sorted(v.items()) if v2 is not None]
        elif v is not None:
            rows.append((safe(k), _fmt(v)))
    return rows


def item_check(item_id: str) -> str:
    """What the page sends back with a verdict to name the item it showed (not the id itself: the
    page only holds inert copies of crawled strings)."""
    return f"{stable_hash(item_id):016x}"


def check_reviewer(name: object) -> str:
    """A reviewer name (NFC, trimmed), or ReviewError: 1-64 characters, none of them a control character."""
    name = unicodedata.normalize("NFC", name).strip() if isinstance(name, str) else ""
    if not name or len(name) > MAX_REVIEWER or safe(name) != name:
        raise ReviewError(400, f"a reviewer name is 1 to {MAX_REVIEWER} printable characters")
    return name


class ServedQueue:
    """One build's queue and verdicts, safe to share between the server's threads."""

    def __init__(self, out: Path, default_reviewer: str = ""):
        self.out, self.layout = out, Layout(out)
        self.default_reviewer = default_reviewer
        self.access = clip.access(out)  # the build's roots: a reject's source audio is opened within them
        self._lock = threading.Lock()
        self._queue_sig: tuple[int, int] | None = None
        self._items: dict[int, dict[str, Any]] = {}  # position -> item without its audio
        self._order: list[int] = []  # positions in queue order
        self._verdict_sig: tuple[int, int] | None = None
        self._verdicts: list[dict[str, Any]] = []
        self._audio: OrderedDict[tuple[tuple[int, int], int], bytes | str] = OrderedDict()
        self._refresh()

    # -- reading the files again when they change -------------------------------------------------
    def _refresh(self) -> None:
        with self._lock:
            sig = _signature(self.layout.queue)
            if sig != self._queue_sig:
                rows = read_queue(self.layout.queue, _SUMMARY).to_pylist()
                self._items = {r["position"]: r for r in rows}
                self._order = sorted(self._items)
                self._queue_sig = sig
                self._audio.clear()
            sig = _signature(self.layout.verdicts)
            if sig != self._verdict_sig:
                self._verdicts = vd.load(self.out)
                self._verdict_sig = sig

    def version(self) -> str:
        """Changes whenever the queue or a verdict does: the live report polls it."""
        self._refresh()
        return f"{self._queue_sig}-{self._verdict_sig}"

    def _judged(self) -> set[str]:
        return {r["item_id"] for r in self._verdicts}

    def _positions(self, source: str | None) -> list[int]:
        """Queue positions, all of them or those of one source (None and "" both mean no source)."""
        if source is None:
            return self._order
        return [p for p in self._order if (self._items[p]["source"] or "") == source]

    # -- what the page asks for -------------------------------------------------------------------
    def state(self, source: str | None = None) -> dict[str, Any]:
        """Progress (judged / total, overall and per stratum), the items in queue order (of one source
        when `source` is given), and the first of them nobody has judged (None when all are)."""
        self._refresh()
        judged = self._judged()
        strata: dict[str, list[int]] = {}
        for p in self._order:
            it = self._items[p]
            c = strata.setdefault(it["stratum"], [0, 0])
            c[0] += it["item_id"] in judged
            c[1] += 1
        shown = self._positions(source)
        items = [
            {
                "position": p,
                "stratum": safe(self._items[p]["stratum"]),
                "decision": safe(self._items[p]["decision"]),
                "judged": self._items[p]["item_id"] in judged,
            }
            for p in shown
        ]
        first = next((i["position"] for i in items if not i["judged"]), None)
        return {
            "build": safe(self.out.resolve().name),
            "default_reviewer": safe(self.default_reviewer, MAX_REVIEWER),
            "source": None if source is None else safe(source),
            "total": len(self._order),
            "judged": sum(j for j, _ in strata.values()),
            "strata": [{"stratum": safe(s), "judged": j, "total": n} for s, (j, n) in sorted(strata.items())],
            "items": items,
            "first_unjudged": first,
            "version": f"{self._queue_sig}-{self._verdict_sig}",
        }

    def _item(self, position: int) -> dict[str, Any]:
        it = self._items.get(position)
        if it is None:
            raise ReviewError(404, f"no item at position {position} of the queue")
        return it

    def item(self, position: int) -> dict[str, Any]:
        """One item as the page shows it; every crawled string made inert."""
        self._refresh()
        it = self._item(position)
        cues = item_cues(it)
        audio = self.audio(position)
        mine = [r for r in self._verdicts if r["item_id"] == it["item_id"]]
        return {
            "position": position,
            "check": item_check(it["item_id"]),
            "item_id": safe(it["item_id"]),
            "stratum": safe(it["stratum"]),
            "decision": safe(it["decision"]),
            "reason": safe(it["reason"]) if it["reason"] else None,
            "detail": safe(it["detail"]) if it["detail"] else None,
            "source": safe(it["source"]) if it["source"] else None,
            "doc_id": safe(it["doc_id"]) if it["doc_id"] else None,
            "segment_id": safe(it["segment_id"]) if it["segment_id"] else None,
            "audio_uri": safe(it["audio_uri"]) if it["audio_uri"] else None,
            "language": safe(it["language"]) if it["language"] else None,
            "start_ms": it["start_ms"],
            "end_ms": it["end_ms"],
            "text": safe(it["text"]) if it["text"] else None,
            "cues": [{"start_ms": c["start_ms"], "end_ms": c["end_ms"], "text": safe(c["text"])} for c in cues],
            "evidence": evidence_rows(it["evidence"]),
            "verdicts": [
                {k: safe(r.get(k) or "") for k in ("reviewer", "verdict", "note", "time")} for r in mine[-20:]
            ],
            "audio": (
                {
                    "src": f"/audio/{position}?v={(self._queue_sig or (0, 0))[0]:x}",
                    "kind": "segment" if it["decision"] == "kept" else "excerpt",
                }
                if isinstance(audio, bytes)
                else {"explanation": audio}
            ),
        }

    def audio(self, position: int) -> bytes | str:
        """The item's audio as FLAC bytes, or why there is none. A kept segment's FLAC as the build
        wrote it; for a reject, the span it names (at most 30 s from its start, the first 30 s of the
        file when it names none) decoded from the source audio now, if the build's roots and checks
        allow it to be opened (wsdata/review/clip.py)."""
        self._refresh()
        it = self._item(position)
        key = (self._queue_sig or (0, 0), position)
        with self._lock:
            if key in self._audio:
                self._audio.move_to_end(key)
                return self._audio[key]
        got = self._read_audio(it)
        with self._lock:
            self._audio[key] = got
            while len(self._audio) > _AUDIO_CACHE:
                self._audio.popitem(last=False)
        return got

    def _read_audio(self, it: dict[str, Any]) -> bytes | str:
        if it["decision"] == "kept":
            col = read_queue(self.layout.queue, ["audio_flac"], [("position", "==", it["position"])])
            flac = col["audio_flac"][0].as_py() if col.num_rows else None
            return flac or "this kept segment has no audio in the queue"
        try:  # opened only where the build would open it (wsdata/review/clip.py)
            return encode_flac(clip.excerpt(it, self.access))
        except clip.NoAudio as e:
            return f"no audio: {e}"

    def judge(self, body: dict[str, Any]) -> dict[str, Any]:
        """Append one verdict from the page: {position, check, verdict, reviewer, note}. `check` must
        be the item's at that position (a queue rewritten under an open page is refused)."""
        if not isinstance(body, dict):
            raise ReviewError(400, "a verdict is a JSON object")
        position = body.get("position")
        if not isinstance(position, int) or isinstance(position, bool):
            raise ReviewError(400, "position must be an integer")
        verdict = body.get("verdict")
        if verdict not in vd.CHOICES:
            raise ReviewError(400, f"verdict must be one of {', '.join(vd.CHOICES)}")
        reviewer = check_reviewer(body.get("reviewer"))
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise ReviewError(400, f"a note is text of at most {MAX_NOTE} characters")
        self._refresh()
        it = self._item(position)
        if body.get("check") != item_check(it["item_id"]):
            raise ReviewError(409, "the queue changed under this page; reload it")
        rec = vd.append(self.out, it, verdict, reviewer, note)
        return {"saved": verdict, "position": position, "time": rec["time"]}
