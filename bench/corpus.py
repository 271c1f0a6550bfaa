"""The benchmark suite's fixed corpus, generated from the real speech in tests/data/speech.

    .venv/bin/python bench/corpus.py build/bench-corpus [--docs 160]

Each document is one language's real clips (tests/data/speech, 5-12 s each; see its ATTRIBUTION)
in a seeded random order, with 0.4-2.5 s of silence between them and, in one document of four, a
40 s pause (a no-speech window), about 2 minutes in all; Opus at 48 kHz, as web audio comes. Its
SRT has one cue per clip at the clip's exact times. The cue texts are drawn from that language's
transcripts (real words of the language, ~14 characters per second of speech) but shuffled, so
every document is distinct to dedup, while langid still reads the language. Planted on top: one
document in 20 repeats an earlier one under a new id (dedup.exact), one in 20 has machine-style
lowercase unpunctuated captions (machine.*). The same arguments give the same corpus, byte for
byte in its transcripts and crawl; it is cached in the folder with its arguments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wsdata.io.audio import decode, ffmpeg_exe

SPEECH = ROOT / "tests/data/speech"
RATE = 16_000
TARGET_S = 120  # audio per document
VERSION = 1  # bump when the recipe changes: the cache is keyed on it


def _srt_time(ms: int) -> str:
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def _clips() -> dict[str, list[tuple[np.ndarray, str]]]:
    """language -> [(16 kHz int16 samples, transcript)] of the clips that have audio."""
    out: dict[str, list[tuple[np.ndarray, str]]] = {}
    for row in (SPEECH / "transcripts.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        lang, key, _, text, has_audio = row.split("\t")
        if has_audio == "1":
            out.setdefault(lang, []).append((decode(str(SPEECH / lang / f"{key}.flac")), text))
    return out


def _cue_text(words: list[str], n_chars: int, rng: np.random.Generator, machine: bool) -> str:
    picked: list[str] = []
    while sum(len(w) + 1 for w in picked) < n_chars:
        picked.append(words[int(rng.integers(len(words)))])
    if machine:
        return "".join(c for c in " ".join(picked).lower() if c.isalnum() or c == " ")
    if len(picked) > 3:  # a clause break, as people write
        picked[len(picked) // 2 - 1] += ","
    text = " ".join(picked)
    return text[0].upper() + text[1:] + "."


def make_corpus(dest: Path, docs: int = 160, seed: int = 0) -> Path:
    """Write (or reuse) the corpus in `dest`; returns its crawl.jsonl."""
    params = {"version": VERSION, "docs": docs, "seed": seed}
    crawl = dest / "crawl.jsonl"
    if crawl.exists() and (dest / "corpus.json").exists() and json.loads((dest / "corpus.json").read_text()) == params:
        return crawl
    (dest / "media").mkdir(parents=True, exist_ok=True)
    (dest / "subs").mkdir(exist_ok=True)
    clips = _clips()
    langs = sorted(clips)
    vocab = {
        lang: [w.strip(".,;:!?¿¡") for _, t in clips[lang] for w in t.split() if w.strip(".,;:!?¿¡")] for lang in langs
    }
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    for d in range(docs):
        if d % 20 == 19 and rows:  # an earlier document again, under a new id
            rows.append(dict(rows[int(rng.integers(len(rows)))], id=f"bench-{d:05d}", source="bench:repeat"))
            continue
        lang = langs[d % len(langs)]
        machine = d % 20 == 9
        pieces, cues, t = [], [], 0
        pause_at = int(rng.integers(2, 6)) if d % 4 == 0 else -1
        while t < TARGET_S * RATE:
            samples, _ = clips[lang][int(rng.integers(len(clips[lang])))]
            gap = int(RATE * (40.0 if len(cues) == pause_at else rng.uniform(0.4, 2.5)))
            pieces += [np.zeros(gap, np.int16), samples]
            start = t + gap
            t = start + len(samples)
            n_chars = int(14 * len(samples) / RATE)
            cues.append((start * 1000 // RATE, t * 1000 // RATE, _cue_text(vocab[lang], n_chars, rng, machine)))
        pieces.append(np.zeros(RATE, np.int16))
        audio = dest / "media" / f"bench-{d:05d}.opus"
        pcm = np.concatenate(pieces).astype("<i2").tobytes()
        cmd = [
            ffmpeg_exe(),
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "s16le",
            "-ar",
            str(RATE),
            "-ac",
            "1",
            "-i",
            "-",
            "-ar",
            "48000",
            "-c:a",
            "libopus",
            "-b:a",
            "32k",
            str(audio),
        ]
        subprocess.run(cmd, input=pcm, check=True)
        srt = dest / "subs" / f"bench-{d:05d}.{lang}.srt"
        srt.write_text(
            "".join(f"{i}\n{_srt_time(a)} --> {_srt_time(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1)),
            encoding="utf-8",
        )
        rows.append(
            {
                "id": f"bench-{d:05d}",
                "audio": f"media/{audio.name}",
                "transcript": f"subs/{srt.name}",
                "language": lang,
                "caption_kind": "manual",
                "source": "bench:machine" if machine else "bench",
            }
        )
    crawl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    (dest / "corpus.json").write_text(json.dumps(params))
    return crawl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dest")
    ap.add_argument("--docs", type=int, default=160)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(make_corpus(Path(a.dest), a.docs, a.seed))


if __name__ == "__main__":
    main()
