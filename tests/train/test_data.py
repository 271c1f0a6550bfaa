"""The streaming loader: every row once per epoch across ranks and workers, resume skips exactly
what was read, rows that cannot be targets are skipped the same way every time, padding."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from wsdata.io.audio import encode_flac
from wsdata.train.data import PAD_TO, ShardStream, collate
from wsdata.train.targets import IGNORE
from wsdata.vocab import Vocab

pytestmark = pytest.mark.model

V = Vocab.bundled()


def shards(folder: Path, n_files: int = 3, rows: int = 10, group: int = 4) -> list[Path]:
    """Shards of one-second tones; row k's text is "row k"; every 7th row has a language outside
    the vocabulary. The loudness encodes k, so the decoded audio identifies the row too."""
    paths = []
    for f in range(n_files):
        recs = []
        for r in range(rows):
            k = f * rows + r
            pcm = (np.sin(np.arange(16_000) / 10) * (100 + k)).astype(np.int16)
            recs.append(
                {
                    "id": f"d{k}/00000",
                    "audio": {"bytes": encode_flac(pcm), "path": f"d{k}.flac"},
                    "text": f"row {k}",
                    "timestamps": [],
                    "prev_text": "",
                    "language": "xx" if k % 7 == 3 else "en",
                    "task": "transcribe",
                    "no_speech": False,
                }
            )
        paths.append(folder / f"train-{f:05d}.parquet")
        pq.write_table(pa.Table.from_pylist(recs), paths[-1], row_group_size=group)
    return paths


def ids(stream, n: int | None = None) -> list[str]:
    return [x["id"] for x in itertools.islice(iter(stream), n)]


@pytest.mark.filterwarnings("ignore:skipped")
def test_each_row_once_per_epoch_over_ranks_and_workers(tmp_path):
    files = shards(tmp_path)
    seen = []
    for rank in range(2):
        for worker in range(2):
            s = ShardStream(files, V, seed=3, rank=rank, world=2, shuffle_buffer=5, loop=False)
            seen += [row["id"] for row, _, _ in s._rows(worker, 2)]
    assert sorted(seen) == sorted(f"d{k}/00000" for k in range(30))


def test_bad_rows_are_skipped_with_a_warning(tmp_path):
    s = ShardStream(shards(tmp_path), V, seed=1, shuffle_buffer=4, loop=False)
    with pytest.warns(UserWarning, match="skipped: row d[0-9]+/00000: language 'xx' is not in Whisper's vocabulary"):
        got = ids(s)
    assert sorted(got) == sorted(f"d{k}/00000" for k in range(30) if k % 7 != 3)


@pytest.mark.filterwarnings("ignore:skipped")
@pytest.mark.parametrize("batch,skip", [(2, 3), (4, 5)])
def test_resume_skips_exactly_the_consumed_batches(tmp_path, batch, skip):
    files = shards(tmp_path)
    full = ShardStream(files, V, seed=5, batch_size=batch, shuffle_buffer=6)
    first = list(itertools.islice(iter(full), (skip + 4) * batch))
    resumed = ShardStream(files, V, seed=5, batch_size=batch, shuffle_buffer=6)
    resumed.start = [first[skip * batch - 1]["position"]]  # what the trainer keeps of the last batch it consumed
    again = list(itertools.islice(iter(resumed), 4 * batch))
    assert [x["id"] for x in again] == [x["id"] for x in first[skip * batch :]]  # past the first epoch too
    assert all(
        torch.equal(a["audio"], b["audio"]) and a["input_ids"] == b["input_ids"]
        for a, b in zip(again, first[skip * batch :])
    )


@pytest.mark.filterwarnings("ignore:skipped")
def test_collate_pads_decoder_inputs_to_a_multiple_of_eight(tmp_path):
    items = list(itertools.islice(iter(ShardStream(shards(tmp_path), V, p_prev=0, p_timestamps=0)), 3))
    b = collate(items)
    lengths = [len(x["input_ids"]) for x in items]
    assert b["input_ids"].shape[1] % PAD_TO == 0 and b["input_ids"].shape[1] >= max(lengths)
    assert b["n_tokens"] == sum(lengths) and b["audio"].shape == (3, 480_000)
    for i, n in enumerate(lengths):
        assert (b["labels"][i, n:] == IGNORE).all() and (b["labels"][i, :n] != IGNORE).all()
