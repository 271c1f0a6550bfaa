"""bench/ scripts run as `python bench/X.py`, which puts bench/ first on sys.path: a module there named
like a standard-library one (profile, timeit, ...) would replace it for torch and everything else."""

import sys
from pathlib import Path


def test_no_bench_module_shadows_the_standard_library():
    names = {p.stem for p in (Path(__file__).resolve().parent.parent / "bench").glob("*.py")}
    assert "run" in names and not names & set(sys.stdlib_module_names)
