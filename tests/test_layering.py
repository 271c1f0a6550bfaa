"""The package's layering: imports run one way, and the data commands stay light.

`wsdata build`, `stats` and `review` (terminal, report or web page) must never import torch or
transformers (the trainer's extra); no module may import, directly or through others, a module that imports it back.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import SOURCE

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "wsdata"
HEAVY = ("torch", "transformers")


def _run(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_data_commands_never_import_torch(tmp_path):
    out = tmp_path / "o"
    code = f"""
import contextlib, io, json, sys
from wsdata.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    rcs = [main(["build", "--source", {str(SOURCE)!r}, "--out", {str(out)!r}, "--quiet"]),
           main(["stats", {str(out)!r}]), main(["review", {str(out)!r}, "--report"])]
    from pathlib import Path
    from wsdata.review import web
    server = web.serve(Path({str(out)!r}), "127.0.0.1", 0)  # review --web: the page's data and report
    server.queue.item(0), server.queue.state()
    server.server_close()
    try:
        main(["--help"])
    except SystemExit:
        pass
print(json.dumps({{"rcs": rcs, "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})}}))
"""
    got = _run(code)
    assert got == {"rcs": [0, 0, 0], "heavy": []}


def test_help_imports_only_the_command_line():
    got = _run("""
import contextlib, io, json, sys
from wsdata.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(["--help"])
    except SystemExit:
        pass
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
""")
    for heavy in (*HEAVY, "numpy", "pyarrow", "polars", "datasketch", "scipy", "pandas", "langid"):
        assert heavy not in got


def _imports(path: Path) -> set[str]:
    """wsdata modules that `path` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wsdata"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("wsdata")}
    return found


def test_no_import_cycles():
    modules = {}
    for py in PKG.rglob("*.py"):
        name = ".".join(py.relative_to(ROOT).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = py
    graph = {m: {i for i in _imports(p) if i in modules and i != m} for m, p in modules.items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        seen[m] = 1
        for dep in sorted(graph[m]):
            if seen.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join([*path[path.index(dep) :], dep]))
            if dep not in seen:
                visit(dep, [*path, dep])
        seen[m] = 2

    for m in sorted(graph):
        if m not in seen:
            visit(m, [m])


OUTPUT_NAMES = {
    "_work",
    "data",
    "rejects",
    "review",
    "stats.json",
    "README.md",
    "queue.parquet",
    "verdicts.jsonl",
    "quarantine.txt",
    "report.html",
    "clips",
    "chunks",
    "sig",
    "decisions.parquet",
    "done.json",
    "build.json",
}


def test_only_the_layout_module_names_paths_under_out():
    """A path under OUT/ is built in wsdata/layout.py alone: no other module joins one of its names
    onto a path (`out / "rejects"`), so moving a file of the layout is a one-line change."""
    found = []
    for py in PKG.rglob("*.py"):
        # pypi_weights: the `data` folder inside a wheel; readers: Common Voice's own `clips` folder
        if py.name in ("layout.py", "pypi_weights.py") or py.relative_to(PKG).as_posix() == "interop/readers.py":
            continue
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
                for side in (node.left, node.right):
                    if isinstance(side, ast.Constant) and side.value in OUTPUT_NAMES:
                        found.append(f"{py.relative_to(ROOT)}:{node.lineno} {side.value!r}")
    assert found == []
