"""Every path under a build's output folder, and nowhere else.

OUT/README.md                     dataset card                     (wsdata/card.py)
OUT/stats.json                    the funnel, machine-readable     (wsdata/summary.py)
OUT/data/train-NNNNN.parquet      kept segments, one file a chunk  (wsdata/rows.py)
OUT/data/validation-NNNNN.parquet held-out documents' segments
OUT/rejects/rejects-NNNNN.parquet rejected documents and segments
OUT/review/queue.parquet          the audit queue                  (wsdata/review/)
OUT/review/verdicts.jsonl, quarantine.txt, report.html, clips/
OUT/_work/                        resumable state of a build in progress:
    lock                          the writer's lock (wsdata/lock.py): one build, import or score at a time
    build.json                    what the folder is built from (source, config)
    chunks/NNNNN.json             a chunk's completion marker, with its counters
    review/NNNNN.parquet          a chunk's review candidates
    dedup/sig/NNNNN.parquet       a chunk's MinHash band keys (its own completion mark)
    dedup/decisions.parquet       the global pass's rejects, by crawl line
    dedup/done.json               the global pass's completion marker and summary
    import/                       `wsdata import`: the corpus as a crawl (crawl.jsonl, staged.json,
                                  audio/ and transcripts/ it points at)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from wsdata.io import atomic

MAX_STATS_BYTES = 256 << 20  # stats.json grows with the number of sources; past this, it is not read


@dataclass(frozen=True)
class Layout:
    root: Path

    # What a user reads.
    @property
    def card(self) -> Path:
        return self.root / "README.md"

    @property
    def stats(self) -> Path:
        return self.root / "stats.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def train_shard(self, chunk: int) -> Path:
        return self.data / f"train-{chunk:05d}.parquet"

    def validation_shard(self, chunk: int) -> Path:
        return self.data / f"validation-{chunk:05d}.parquet"

    def shards(self, split: str) -> list[Path]:
        """Every shard of `split` ("train" or "validation"), in chunk order."""
        return sorted(self.data.glob(f"{split}-*.parquet"))

    @property
    def rejects(self) -> Path:
        return self.root / "rejects"

    def reject_shard(self, chunk: int) -> Path:
        return self.rejects / f"rejects-{chunk:05d}.parquet"

    @property
    def review(self) -> Path:
        return self.root / "review"

    @property
    def queue(self) -> Path:
        return self.review / "queue.parquet"

    @property
    def verdicts(self) -> Path:
        return self.review / "verdicts.jsonl"

    @property
    def quarantine(self) -> Path:
        return self.review / "quarantine.txt"

    @property
    def report_html(self) -> Path:
        return self.review / "report.html"

    @property
    def clips(self) -> Path:
        return self.review / "clips"

    def stale_temporaries(self) -> list[Path]:
        """Temporaries (wsdata/io/atomic.py) a killed build may have left, in the places the build
        writes and nowhere else: a user's own `*.tmp` beside the build is never touched."""
        found = [tmp for f in (self.card, self.stats) if (tmp := atomic.tmp_path(f)).exists()]
        for folder in (self.data, self.rejects, self.review, self.work):
            if folder.is_dir():
                found += folder.glob(("**/*" if folder == self.work else "*") + atomic.TMP_SUFFIX)
        return sorted(found)

    # The state of a build in progress.
    @property
    def work(self) -> Path:
        return self.root / "_work"

    @property
    def import_work(self) -> Path:
        return self.work / "import"

    @property
    def lock(self) -> Path:
        return self.work / "lock"

    @property
    def build_ident(self) -> Path:
        return self.work / "build.json"

    def chunk_marker(self, chunk: int) -> Path:
        return self.work / "chunks" / f"{chunk:05d}.json"

    def review_candidates(self, chunk: int) -> Path:
        return self.work / "review" / f"{chunk:05d}.parquet"

    @property
    def dedup(self) -> Path:
        return self.work / "dedup"

    def dedup_signatures(self, chunk: int) -> Path:
        return self.dedup / "sig" / f"{chunk:05d}.parquet"

    def all_dedup_signatures(self) -> list[Path]:
        return sorted((self.dedup / "sig").glob("*.parquet"))

    @property
    def dedup_decisions(self) -> Path:
        return self.dedup / "decisions.parquet"

    @property
    def dedup_done(self) -> Path:
        return self.dedup / "done.json"
