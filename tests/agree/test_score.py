"""`wsdata score` on a `wsdata train` run's model, end to end: every kept speech segment scored, a
killed run resumes at the first shard without its file, sources ranked by WER x hours in the
report, the worst segments added to the review queue, and `--quarantine-worst` records the top
source. A tiny model trained for two steps: this checks the plumbing and the ranking, not accuracy."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from tests.helpers import SOURCE, TINY
from wsdata import config
from wsdata.agree import score as sc
from wsdata.cli import main
from wsdata.layout import Layout
from wsdata.orchestrate import build
from wsdata.review import report
from wsdata.review.sample import WORST_STRATUM, check_queue

pytestmark = [pytest.mark.slow, pytest.mark.model]


def test_score_a_corpus_with_its_own_model(tmp_path, capsys):
    from wsdata.train.loop import TrainArgs, train

    out = tmp_path / "corpus"
    cfg = config.from_dict({"read": {"chunk_size": 3}})  # several shards, so resuming means something
    build(SOURCE, out, cfg, progress=False)
    run = tmp_path / "run"
    train(
        TrainArgs(
            data=str(out),
            out=str(run),
            model="tiny",
            tiny_dims=TINY,
            steps=2,
            batch_size=4,
            micro_batch_size=4,
            warmup=1,
            workers=0,
            eval_every=0,
            save_every=1000,
            eval_batches=1,
        )
    )
    model = str(run / "model")
    assert main(["score", str(out), "--model", model, "--device", "cpu", "--worst", "3", "--quiet"]) == 0
    assert "kept speech segments" in capsys.readouterr().out
    dest = sc.scores_dir(out, model)
    shards = [*Layout(out).shards("train"), *Layout(out).shards("validation")]
    assert sorted(p.name for p in dest.glob("*.parquet")) == sorted(p.name for p in shards) and len(shards) > 1
    speech = sum(sum(not x for x in pq.read_table(s, columns=["no_speech"])["no_speech"].to_pylist()) for s in shards)
    scores = pq.read_table(dest / shards[0].name)
    assert sum(pq.read_metadata(p).num_rows for p in dest.glob("*.parquet")) == speech
    assert set(scores.column_names) >= {"id", "source", "asr_text", "wer", "edits", "words"}

    # Resume: a shard whose score file is missing (a killed run) is the only one scored again.
    (dest / shards[-1].name).unlink()
    from wsdata.lid.audio import load_audio_lid

    again: list[str] = []
    lid = load_audio_lid(model, "cpu")
    sc.score(out, lid, model, on_shard=again.append)
    assert again == [shards[-1].name]
    # The same model gives timestamped segments for re-timing: in order, inside the 30 s window.
    import numpy as np

    for segs in lid.timed([np.zeros(16000 * 5, np.float32), np.zeros(16000 * 30, np.float32)], ["en", "fr"]):
        assert all(0 <= a <= b <= 30_000 for a, b, _ in segs)
        assert [a for a, _, _ in segs] == sorted(a for a, _, _ in segs)

    # The report ranks sources by WER x hours; the queue holds the worst segments, worst first.
    t = report.tables(out)["scores"]
    assert t and t["model"] == dest.name and t["segments"] == speech
    pri = [s["priority"] for s in t["sources"]]
    assert pri == sorted(pri, reverse=True) and all(
        abs(s["priority"] - s["wer"] * s["hours"]) < 1e-9 for s in t["sources"]
    )
    assert sum(n for _, n in t["histogram"]) == speech
    queue = pq.read_table(Layout(out).queue).to_pylist()
    worst = sorted((r for r in queue if r["stratum"] == WORST_STRATUM), key=lambda r: r["position"])
    assert len(worst) == 3 and worst[0]["position"] > max(r["position"] for r in queue if r["stratum"] != WORST_STRATUM)
    assert check_queue(out, cfg) == []  # the build's own strata are untouched
    assert main(["review", str(out), "--report"]) == 0
    assert "sources by WER x hours" in capsys.readouterr().out

    assert main(["review", str(out), "--quarantine-worst", "1"]) == 0
    top = next(s["source"] for s in t["sources"] if s["source"])
    assert top in capsys.readouterr().out and top in Layout(out).quarantine.read_text()
