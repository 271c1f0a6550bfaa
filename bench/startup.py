"""Start-up cost of the commands, against `python -c pass` in the same run: `wsdata --help`, and a
one-document `wsdata build` (real speech: the minicorpus's first line), in fresh processes.

CPU is user + system of the process and every child it waited for (ffmpeg, spawned workers), the
median of `--rounds` runs. The build runs with wsdata's cache of derived model arrays warm (the
usual case: it is filled once per machine, wsdata/cache.py), and once cold for the record.

    .venv/bin/python bench/startup.py        # writes its section of docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_section

MARK = "<!-- bench/startup.py writes below this line -->"
WSDATA = [sys.executable, "-m", "wsdata"]
TARGETS = {"help": 0.3, "build": 1.5}  # CPU s


def cpu_of(cmd: list[str], env: dict[str, str]) -> float:
    """CPU seconds of one run of `cmd` and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def one_doc_crawl(tmp: Path) -> Path:
    mini = ROOT / "tests/data/minicorpus"
    rec = json.loads((mini / "crawl.jsonl").read_text(encoding="utf-8").splitlines()[0])
    rec["audio"], rec["transcript"] = str(mini / rec["audio"]), str(mini / rec["transcript"])
    path = tmp / "one.jsonl"
    path.write_text(json.dumps(rec) + "\n", encoding="utf-8")
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--out", default=str(ROOT / "docs/benchmarks.md"))
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        env = {**os.environ, "WSDATA_CACHE": str(tmp / "cache")}
        crawl = one_doc_crawl(tmp)

        def build(workers: int, pandas: bool = True) -> list[str]:
            shutil.rmtree(tmp / "out", ignore_errors=True)
            args = ["build", "--source", str(crawl), "--out", str(tmp / "out"), "--quiet", "--workers", str(workers)]
            if pandas:
                return [*WSDATA, *args]
            # pyarrow imports pandas, where it is installed, on the first array it makes; a finder that refuses
            # it makes that import fail as if pandas were absent (the core install has none).
            code = (
                "import sys\n"
                "class NoPandas:\n"
                "    def find_spec(self, name, path=None, target=None):\n"
                "        if name.split('.')[0] == 'pandas': raise ModuleNotFoundError(name)\n"
                "sys.meta_path.insert(0, NoPandas())\n"
                f"from wsdata.cli import main; sys.exit(main({args!r}))"
            )
            return [sys.executable, "-c", code]

        cold = cpu_of(build(1), env)  # fills the cache
        runs: dict[str, list[float]] = {
            "python -c pass": [],
            "wsdata --help": [],
            "build": [],
            "build --workers 2": [],
            "build, no pandas": [],
        }
        for _ in range(a.rounds):
            runs["python -c pass"].append(cpu_of([sys.executable, "-c", "pass"], env))
            runs["wsdata --help"].append(cpu_of([*WSDATA, "--help"], env))
            runs["build"].append(cpu_of(build(1), env))
            runs["build --workers 2"].append(cpu_of(build(2), env))
            runs["build, no pandas"].append(cpu_of(build(1, pandas=False), env))
    med = {k: statistics.median(v) for k, v in runs.items()}
    ok = lambda x, t: "met" if x < t else "**not met**"
    has_pandas = importlib.util.find_spec("pandas") is not None
    md = [
        MARK,
        "",
        "## Start-up (bench/startup.py)",
        "",
        "```",
        f".venv/bin/python bench/startup.py --rounds {a.rounds}",
        "```",
        "",
        (
            f"Machine: {platform.machine()}, {os.cpu_count()} cores; Python {platform.python_version()}. CPU seconds "
            f"(user + system, children included), median of {a.rounds} fresh processes. The build is one crawl line of "
            "real speech (104 s of Opus, 4 segments kept), with every stage and the dedup pass, decoding included "
            "(libav in the process)."
        ),
        "",
        "| command | CPU s | over `python -c pass` | target | |",
        "|---|---:|---:|---:|---|",
        f"| `python -c pass` | {med['python -c pass']:.3f} | | | |",
        (
            f"| `wsdata --help` | {med['wsdata --help']:.3f} | {med['wsdata --help'] - med['python -c pass']:+.3f} "
            f"| < {TARGETS['help']} | {ok(med['wsdata --help'], TARGETS['help'])} |"
        ),
        (
            f"| `wsdata build` (1 document) | {med['build']:.3f} | {med['build'] - med['python -c pass']:+.3f} "
            f"| < {TARGETS['build']} | {ok(med['build'], TARGETS['build'])} |"
        ),
        (
            f"| `wsdata build --workers 2` (1 document) | {med['build --workers 2']:.3f} "
            f"| {med['build --workers 2'] - med['python -c pass']:+.3f} | | |"
        ),
        f"| `wsdata build` (1 document), cache cold | {cold:.3f} | {cold - med['python -c pass']:+.3f} | | |",
        (
            f"| `wsdata build` (1 document), pandas not importable | {med['build, no pandas']:.3f} "
            f"| {med['build, no pandas'] - med['python -c pass']:+.3f} | < {TARGETS['build']} "
            f"| {ok(med['build, no pandas'], TARGETS['build'])} |"
        ),
        "",
        (
            ("pandas is installed here (the interop extra brings it, through datasets). " if has_pandas else "")
            + "pyarrow imports pandas, where it is installed, on the first array a process makes; the core install "
            "(`pip install wsdata`) has no pandas, as in the last row."
        ),
        "",
        (
            "With `--workers 2` this one-chunk build runs in the main process: the local engine starts worker "
            "processes only for a pass of two chunks or more, once for every pass of the build. The cold-cache run "
            "derives langid's model arrays and datasketch's MinHash parameters once for the machine (wsdata/cache.py)."
        ),
    ]
    write_section(Path(a.out), MARK, "\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
