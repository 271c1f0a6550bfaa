"""A wrong model path, a missing extra or a full disk stops the build: one message and a non-zero
exit from the CLI, a FatalError from `orchestrate.build`, from a worker process and from a Ray task;
never a build that "succeeds" with every document rejected as `<stage>.internal_error`, and never
a stats.json or dataset card written as if it had finished."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.helpers import SOURCE
from wsdata import config, orchestrate
from wsdata.agree import wer
from wsdata.errors import DiskFull, ExtraMissing, FatalError, ModelUnavailable
from wsdata.stages import agree as agree_stage

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"read.chunk_size": 4, "dedup.enabled": False}  # several chunks: a pool of 2 gets work


def cfg_with(**values: object) -> config.BuildConfig:
    return config.override(config.load("default"), {**SMALL, **values})


def nothing_finished(out: Path) -> None:
    """No output that claims a finished build, and no document blamed for the set-up's problem."""
    assert not (out / "stats.json").exists() and not (out / "README.md").exists()
    for f in (out / "rejects").glob("*.parquet"):
        reasons = set(pq.read_table(f, columns=["reason"])["reason"].to_pylist())
        assert not {r for r in reasons if r.endswith(".internal_error")}, f


@pytest.fixture
def no_preflight(monkeypatch):
    """The driver's up-front model check skipped: the error is then met inside a stage, as on a
    worker or a Ray node that lacks the model the driver has."""
    monkeypatch.setattr(orchestrate, "require_models", lambda cfg: None)


class StandIn:
    """A model that answers nothing in particular: the agree stage's extra is what is missing."""

    kind = "stand-in"

    def transcribe(self, clips, languages, translate=None):
        return ["a caption" for _ in clips]

    def timed(self, clips, languages):
        return [[] for _ in clips]


@pytest.fixture
def no_asr_extra(monkeypatch):
    """whisper-normalizer (the asr extra) not installed, and a stand-in for the model itself."""
    monkeypatch.setattr(agree_stage, "load_audio_lid", lambda spec, device: StandIn())
    for name in ("whisper_normalizer", "whisper_normalizer.basic", "whisper_normalizer.english"):
        monkeypatch.setitem(sys.modules, name, None)  # import -> ImportError
    wer.normalizer.cache_clear()
    yield
    wer.normalizer.cache_clear()


def test_a_missing_model_stops_the_library_build_before_it_writes(tmp_path):
    out = tmp_path / "o"
    with pytest.raises(ModelUnavailable, match="nope-model"):
        orchestrate.build(SOURCE, out, cfg_with(**{"language.audio_lid": str(tmp_path / "nope-model")}), progress=False)
    assert not out.exists()


@pytest.mark.slow
def test_a_model_missing_inside_the_stage_stops_the_build(tmp_path, no_preflight):
    out = tmp_path / "o"
    with pytest.raises(ModelUnavailable, match="nope-model") as e:
        orchestrate.build(SOURCE, out, cfg_with(**{"language.audio_lid": str(tmp_path / "nope-model")}), progress=False)
    assert type(e.value.__cause__).__name__ == "LidError"  # wsdata.lid.audio's own error, wrapped
    nothing_finished(out)


@pytest.mark.slow
def test_a_model_missing_on_the_workers_crosses_the_process_pool(tmp_path, no_preflight):
    out = tmp_path / "o"
    with pytest.raises(ModelUnavailable, match="nope-model"):
        orchestrate.build(
            SOURCE, out, cfg_with(**{"language.audio_lid": str(tmp_path / "nope-model")}), workers=2, progress=False
        )
    nothing_finished(out)


def test_the_agree_stage_without_its_extra_stops_the_library_build(tmp_path, no_asr_extra):
    out = tmp_path / "o"
    with pytest.raises(ExtraMissing, match=r"wsdata\[asr\]"):
        orchestrate.build(SOURCE, out, cfg_with(**{"agree.asr": "stand-in"}), progress=False)
    assert not out.exists()


@pytest.mark.slow
def test_the_agree_stage_without_its_extra_stops_inside_the_stage(tmp_path, no_asr_extra, no_preflight):
    out = tmp_path / "o"
    with pytest.raises(ExtraMissing, match=r"wsdata\[asr\]"):
        orchestrate.build(SOURCE, out, cfg_with(**{"agree.asr": "stand-in", "agree.retime": False}), progress=False)
    nothing_finished(out)


@pytest.mark.slow
def test_a_full_disk_inside_a_stage_is_a_resumable_fatal_error(tmp_path, monkeypatch):
    from wsdata.io import pcm

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pcm.Pcm, "append", full)
    with pytest.raises(DiskFull, match="No space left on device") as e:
        orchestrate.build(SOURCE, tmp_path / "o", cfg_with(), progress=False)
    assert isinstance(e.value, FatalError) and e.value.exit_code == 1 and e.value.resumable
    nothing_finished(tmp_path / "o")


def cli(*args: str, code: str = "") -> subprocess.CompletedProcess[str]:
    """`wsdata ARGS` in a fresh interpreter, after `code` (to take a package away)."""
    run = f"{code}\nimport sys\nfrom wsdata.cli import main\nsys.exit(main({list(args)!r}))"
    return subprocess.run(
        [sys.executable, "-c", run], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False
    )


def test_the_cli_says_one_line_for_a_missing_model(tmp_path):
    out = tmp_path / "o"
    p = cli("build", "--source", str(SOURCE), "--out", str(out), "--quiet", "--audio-lid", str(tmp_path / "nope"))
    assert p.returncode == 2, p.stderr
    assert len(p.stderr.strip().splitlines()) == 1 and "nope" in p.stderr and "Traceback" not in p.stderr
    assert not out.exists()


def test_the_cli_says_one_line_for_a_missing_asr_extra(tmp_path):
    out = tmp_path / "o"
    take_away = (
        "import sys\n"
        "sys.modules['whisper_normalizer'] = None\n"
        "from wsdata.lid import audio\n"
        "class M:\n    kind = 'stand-in'\n"
        "audio.load_audio_lid = lambda spec, device='auto': M()\n"
    )
    p = cli("build", "--source", str(SOURCE), "--out", str(out), "--quiet", "--asr", "stand-in", code=take_away)
    assert p.returncode == 2, p.stderr
    assert "wsdata[asr]" in p.stderr and "Traceback" not in p.stderr
    assert len([line for line in p.stderr.splitlines() if "wsdata[asr]" in line]) == 1
    assert not out.exists()


@pytest.mark.slow
def test_the_cli_stops_with_one_line_when_a_worker_meets_the_error(tmp_path):
    """The driver's check passes; the stage's own load fails (as on a node without the model)."""
    out = tmp_path / "o"
    skip_check = (
        "from wsdata import orchestrate\n"
        "orchestrate.require_models = lambda cfg: None\n"
        "from wsdata.lid import audio\n"
        "class M:\n    kind = 'stand-in'\n"
        "real = audio.load_audio_lid\n"
        "audio.load_audio_lid = lambda spec, device='auto': M()  # the CLI's own check only\n"
        "import wsdata.stages.language as lang\n"
        "lang.load_audio_lid = real\n"
    )
    args = ("build", "--source", str(SOURCE), "--out", str(out), "--quiet", "--set", "read.chunk_size=4")
    p = cli(*args, "--no-dedup", "--audio-lid", str(tmp_path / "nope"), code=skip_check)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "LidError" not in p.stderr
    said = [line for line in p.stderr.splitlines() if "nope" in line and "spoken language from" not in line]
    assert len(said) == 1 and said[0].startswith("wsdata build: "), p.stderr
    nothing_finished(out)


@pytest.mark.slow
@pytest.mark.ray
def test_a_model_missing_in_a_ray_task_is_the_same_fatal_error(tmp_path, no_preflight):
    pytest.importorskip("ray", reason="the ray extra is not installed (make test installs it)")
    out = tmp_path / "o"
    with pytest.raises(ModelUnavailable, match="nope-model"):
        orchestrate.build(
            SOURCE,
            out,
            cfg_with(**{"language.audio_lid": str(tmp_path / "nope-model")}),
            workers=2,
            progress=False,
            engine="ray",
        )
    nothing_finished(out)
