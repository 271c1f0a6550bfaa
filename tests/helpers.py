"""What several test modules share: the bundled corpora, row readers, and small crawl builders.
Test modules import from here, never from each other."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from wsdata import config
from wsdata.datamodel import Transcript
from wsdata.io.audio import decode, encode_flac
from wsdata.io.captions import parse
from wsdata.io.textenc import decode_text
from wsdata.layout import Layout
from wsdata.review.sample import QUEUE_SCHEMA
from wsdata.stages import funnel_steps
from wsdata.verify import read_rows

DATA = Path(__file__).parent / "data"
MINI = DATA / "minicorpus"
SOURCE = MINI / "crawl.jsonl"  # 19 lines of real speech and broken inputs (MINI/EXPECTED.md)
SPEECH = DATA / "speech"
# A Whisper small enough to train for a few steps in a test (`wsdata train --tiny-dims`).
TINY = (
    "d_model=64,encoder_layers=2,decoder_layers=2,encoder_attention_heads=4,decoder_attention_heads=4,"
    "encoder_ffn_dim=128,decoder_ffn_dim=128"
)
EN_AUDIO, EN_SRT = MINI / "media/yt-Uo9P_bgKdA6.opus", MINI / "subs/yt-Uo9P_bgKdA6.en.srt"
ES_AUDIO, ES_VTT = MINI / "media/vm-097850963.opus", MINI / "subs/vm-097850963.es.vtt"


def all_rows(out: Path) -> tuple[list[dict], list[dict]]:
    """Every kept and rejected row of a build, in a stable order."""
    data = sorted(read_rows(Layout(out).data), key=lambda r: r["id"])
    rejects = sorted(read_rows(Layout(out).rejects), key=lambda r: (r["line"], r["segment_id"] or ""))
    return data, rejects


def tree(out: Path) -> dict[str, str]:
    """Every file of a build folder (rows, rejects, markers, review queue, stats, card) -> digest."""
    return {
        str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }


def speech_rows() -> list[dict[str, str]]:
    """tests/data/speech/transcripts.tsv: real prompts in en/es/fr/it/ru."""
    with open(SPEECH / "transcripts.tsv", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def clip(lang: str, key: str) -> np.ndarray:
    """One prompt of tests/data/speech as float32 16 kHz samples."""
    return decode(str(SPEECH / lang / f"{key}.flac")).astype(np.float32) / 32768.0


def load_transcript(path: Path) -> Transcript:
    text, _ = decode_text(path.read_bytes())
    return parse(text, path.suffix[1:])


def near_copy(tmp: Path) -> Path:
    """The English SRT without its last two cues and with one cue re-cased and re-punctuated."""
    blocks = EN_SRT.read_text(encoding="utf-8").strip().split("\n\n")
    lines = blocks[3].split("\n")
    blocks[3] = "\n".join([*lines[:2], *(x.lower().rstrip(".") + "..." for x in lines[2:])])
    path = tmp / "near.srt"
    path.write_text("\n\n".join(blocks[:-2]) + "\n", encoding="utf-8")
    return path


def dedup_crawl(tmp: Path) -> Path:
    """Five lines over two real recordings: an original, an ASR-labelled copy, a near copy, and an
    exact Spanish pair. Dedup keeps one English and one Spanish document."""
    rows = [
        {"id": "a-orig", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "caption_kind": "manual"},
        {"id": "0-asr-copy", "audio": str(EN_AUDIO), "transcript": str(EN_SRT), "caption_kind": "asr"},
        {"id": "b-near", "audio": str(EN_AUDIO), "transcript": str(near_copy(tmp)), "caption_kind": "manual"},
        {"id": "vm-es", "audio": str(ES_AUDIO), "transcript": str(ES_VTT)},
        {"id": "a-es-copy", "audio": str(ES_AUDIO), "transcript": str(ES_VTT)},
    ]
    path = tmp / "crawl.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def funnel_holds(stats: dict) -> None:
    """The funnel follows the steps as they run: each step's documents in are the previous step's
    in minus its rejects, the rejects add up to the documents rejected, and what leaves the last
    step is what was kept."""
    f = stats["funnel"]
    steps = funnel_steps(config.from_dict(stats["config"]))  # FUNNEL, with the agree steps under --asr
    assert [s["step"] for s in f] == steps and f[0]["documents_in"] == stats["documents"]["in"]
    for prev, step in itertools.pairwise(f):
        assert step["documents_in"] == prev["documents_in"] - prev["documents_rejected"], (prev, step)
    assert sum(s["documents_rejected"] for s in f) == stats["documents"]["rejected"]
    assert f[-1]["documents_in"] - f[-1]["documents_rejected"] == stats["documents"]["kept"]


SPEECH_GAP_MS = 1500


def srt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def make_doc(folder: Path, name: str, audio_lang: str, text_lang: str, n: int = 4, other_text: bool = False) -> dict:
    """Real prompts of `audio_lang` joined with pauses; an SRT of the same prompts in `text_lang`, or
    with `other_text` the texts of other prompts (a caption of other audio), at the same times."""
    rows = speech_rows()
    text = {(r["lang"], r["key"]): r["text"] for r in rows}
    keys = [r["key"] for r in rows if r["lang"] == audio_lang and r["has_audio"] == "1"][:n]
    others = [r["key"] for r in rows if r["lang"] == text_lang and r["key"] not in keys][-n:]
    pieces, srt, t = [], [], SPEECH_GAP_MS
    pieces.append(np.zeros(SPEECH_GAP_MS * 16, dtype=np.int16))
    for i, key in enumerate(keys, 1):
        clip = decode(str(folder.parent / "speech" / audio_lang / f"{key}.flac"))
        end = t + len(clip) // 16
        said = others[i - 1] if other_text else key
        srt.append(f"{i}\n{srt_time(t)} --> {srt_time(end)}\n{text[(text_lang, said)]}\n")
        pieces += [clip, np.zeros(SPEECH_GAP_MS * 16, dtype=np.int16)]
        t = end + SPEECH_GAP_MS
    (folder / f"{name}.flac").write_bytes(encode_flac(np.concatenate(pieces)))
    (folder / f"{name}.srt").write_text("\n".join(srt), encoding="utf-8")
    return {
        "id": name,
        "audio": f"{name}.flac",
        "transcript": f"{name}.srt",
        "language": text_lang,
        "caption_kind": "manual",
        "source": "test",
    }


HOSTILE = "chan\x1b]0;pwned\x07\x1b[2J\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\\u202edesrever\x9b31m\r\n"
RAW = ("\x1b", "\x07", "\x9b", "\u202e", "\r")


def hostile_build(out: Path, text: str = HOSTILE, flac: bytes | None = None) -> Path:
    """A build folder with just what the review commands read: a queue of two items (kept with audio
    `flac`, and rejected) whose every crawled string is `text`, and stats.json (with the default config,
    whose `[limits]` the review opens source audio within)."""
    layout = Layout(out)
    items = []
    for i, decision in enumerate(["kept", "rejected"]):
        items.append(
            {
                "position": i,
                "item_id": f"{text}/{'x' * 300}/{i}",
                "stratum": "kept" if decision == "kept" else f"pair.{text}",
                "source": text,
                "doc_id": text,
                "segment_id": text,
                "decision": decision,
                "reason": None if decision == "kept" else "pair.audio_missing",
                "detail": text,
                "text": text,
                "timestamps": json.dumps([{"start_ms": 0, "end_ms": 1000, "text": text}]),
                "start_ms": 0,
                "end_ms": 1000,
                "audio_flac": flac if decision == "kept" else None,
                "audio_uri": str(out / "missing.wav"),
                "language": "en",
                "evidence": json.dumps({"note": text}),
                "key": i,
            }
        )
    layout.review.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(items, schema=QUEUE_SCHEMA), layout.queue)
    stats = {
        "documents": {"in": 2, "kept": 1},
        "funnel": [{"step": "read", "documents_in": 2, "documents_rejected": 1}],
        "by_source": {text: {"documents_in": 2, "documents_kept": 1, "hours_in": 0.1, "hours_kept": 0.05}},
        "config": config.load("default").to_dict(),
    }
    layout.stats.write_text(json.dumps(stats), encoding="utf-8")
    return out


# Strings that are markup, script or terminal control if shown raw: the review page must show
# them as text.
HOSTILE_HTML = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">\x1b[31mred\x1b[0m \u202eevil'


def http_get(server: Any, path: str) -> tuple[int, bytes]:
    """(status, body) of GET `path` from a review server started by `review_server`."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=20)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@contextmanager
def review_server(out: Path, **kw: Any) -> Iterator[Any]:
    """`wsdata review OUT --web` on a free port of 127.0.0.1, serving from a thread."""
    from wsdata.review import web

    server = web.serve(out, kw.pop("host", "127.0.0.1"), 0, **kw)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def lhotse_cut(
    cut_id: str,
    source: str,
    start: float = 0.0,
    duration: float = 5.155,
    rec_duration: float = 5.155,
    text: str = "Login incorrect. Please enter your agent number.",
    source_type: str = "file",
    **recording: Any,
) -> dict[str, Any]:
    """A lhotse MonoCut as its manifest line holds it: [start, start + duration) s of a recording
    of `rec_duration` s with one source, one supervision over the whole cut. `recording` adds or
    replaces the recording's fields (sources, transforms)."""
    rec = {
        "id": f"{cut_id}-rec",
        "sources": [{"type": source_type, "channels": [0], "source": source}],
        "sampling_rate": 16000,
        "num_samples": round(rec_duration * 16000),
        "duration": rec_duration,
        "channel_ids": [0],
        **recording,
    }
    sup = {"id": f"{cut_id}-sup", "recording_id": rec["id"], "start": 0.0, "duration": duration, "channel": 0}
    sup |= {"text": text, "language": "en"}
    return {"id": cut_id, "start": start, "duration": duration, "channel": 0, "supervisions": [sup], "recording": rec}


def write_jsonl(path: Path, objs: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def commonvoice_folder(folder: Path, lang: str = "fr", n: int = 6) -> list[dict[str, str]]:
    """A Common Voice-style release of `n` real clips of tests/data/speech: clips/*.mp3 (encoded
    here with ffmpeg), validated.tsv, and train/dev/test.tsv (4 / 1 / 1). Returns the rows."""
    import subprocess

    from wsdata.io.audio import ffmpeg_exe

    rows = [r for r in speech_rows() if r["lang"] == lang and r["has_audio"] == "1"][:n]
    (folder / "clips").mkdir(parents=True)
    out = []
    for i, r in enumerate(rows):
        name = f"common_voice_{lang}_{1000 + i}.mp3"
        cmd = [ffmpeg_exe(), "-v", "error", "-i", str(SPEECH / lang / f"{r['key']}.flac"), "-b:a", "48k"]
        subprocess.run([*cmd, str(folder / "clips" / name)], check=True)
        out.append({"client_id": f"spk{i % 2}", "path": name, "sentence": r["text"], "locale": lang, "gender": ""})
    head = "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tvariant\tlocale\tsegment\n"

    def tsv(name: str, part: list[dict[str, str]]) -> None:
        lines = [
            f"{r['client_id']}\t{r['path']}\t{r['sentence']}\t2\t0\t\t{r['gender']}\t\t\t{r['locale']}\t\n"
            for r in part
        ]
        (folder / name).write_text(head + "".join(lines), encoding="utf-8")

    tsv("validated.tsv", out)
    tsv("train.tsv", out[:4])
    tsv("dev.tsv", out[4:5])
    tsv("test.tsv", out[5:])
    return out


def train_args(data: str | tuple[str, ...] | Path, out: Path, **kw: Any) -> Any:
    """A `wsdata train` run that takes seconds on a CPU: the tiny random Whisper (TINY), 12 updates
    of 4 samples; `kw` overrides any of it."""
    from wsdata.train.args import TrainArgs

    base = {
        "data": str(data) if isinstance(data, Path) else data,
        "out": str(out),
        "model": "tiny",
        "steps": 12,
        "batch_size": 4,
        "micro_batch_size": 2,
        "lr": 1e-3,
        "warmup": 2,
        "workers": 0,
        "eval_every": 0,
        "save_every": 1000,
        "tiny_dims": TINY,
        "eval_batches": 1,
    }
    return TrainArgs(**(base | kw))
