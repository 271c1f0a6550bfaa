"""`wsdata review DIR`: the terminal session, `--web`, `--report`, `--quarantine` and
`--quarantine-worst` (the parser is in wsdata/cli.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from wsdata.terminal import err as _err
from wsdata.terminal import safe


def review(args: argparse.Namespace) -> int:
    from wsdata.review.sample import QueueError
    from wsdata.review.verdicts import VerdictsError

    try:
        return _review(args)
    except (QueueError, VerdictsError) as e:  # a folder edited by hand or from someone else
        _err(f"wsdata review: {e}")
        return 2


def _review(args: argparse.Namespace) -> int:
    import getpass

    from wsdata.layout import Layout
    from wsdata.review import report, tui

    out = Path(args.dir)
    layout = Layout(out)
    if not layout.queue.is_file():
        _err(f"wsdata review: {layout.queue} not found (is {out} a finished build?)")
        return 2
    if args.quarantine:
        from wsdata.hygiene import quarantine_line

        path = layout.quarantine
        have = _quarantined(path)
        if have is None:
            return 2
        if args.quarantine not in have:
            _append_lines(path, [quarantine_line(args.quarantine)])
        print(
            f"{safe(repr(args.quarantine))} is quarantined in {safe(path)}; the next build drops its documents with "
            f"`wsdata build ... --quarantine {safe(path)}` (reason text.quarantined_source)"
        )
        return 0
    if args.quarantine_worst:
        return _quarantine_worst(out, args.quarantine_worst)
    if args.report:
        try:
            shown, page_html = report.make(out, f"wsdata audit: {out.name}")
        except report.ReportError as e:
            _err(f"wsdata review: {e}")
            return 2
        print(shown)
        from wsdata.io import atomic

        page = layout.report_html
        atomic.write_text(page, page_html)
        print(f"\nwrote {safe(page)}")
        return 0
    reviewer = args.reviewer or os.environ.get("USER") or getpass.getuser()
    if args.web:
        return _review_web(out, args, reviewer)
    return tui.run(out, reviewer, args.player)


def _review_web(out: Path, args: argparse.Namespace, reviewer: str) -> int:
    from wsdata.review import web

    try:
        server = web.serve(out, args.host, args.port, reviewer, token=args.token)
    except OSError as e:
        _err(f"wsdata review: cannot listen on {safe(args.host)}:{args.port}: {safe(e.strerror or e)}")
        return 2
    print(f"reviewing {safe(out)} at {safe(web.address(server, args.host))}")
    if server.token:
        print("  (the token in that address is asked for on every request; it is printed only this once)")
    if server.loopback_only:
        port = server.server_address[1]
        print(
            f"  from another machine: ssh -N -L {port}:localhost:{port} THIS_HOST, then open http://localhost:{port}/"
        )
    print("  Ctrl-C stops the server; every verdict is already on disk")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nstopped")
    finally:
        server.server_close()
    return 0


def _quarantine_worst(out: Path, n: int) -> int:
    """Quarantine the `n` sources with the highest WER x hours under the latest `wsdata score`."""
    from pyarrow import ArrowException

    from wsdata.agree import score as sc
    from wsdata.hygiene import quarantine_line
    from wsdata.layout import Layout

    try:
        found = sc.latest_scores(out)
        ranked = sc.by_source(found[1]) if found is not None else []
    except (OSError, ValueError, KeyError, TypeError, ArrowException) as e:  # scores that are no Parquet of scores
        _err(f"wsdata review: the scores in {out} cannot be read ({type(e).__name__}: {e})")
        return 2
    if found is None:
        _err(f"wsdata review: {out} has no scores; run `wsdata score {out} --model MODEL` first")
        return 2
    path = Layout(out).quarantine
    have = _quarantined(path)
    if have is None:
        return 2
    worst = [s for s in ranked if s["source"]][:n]
    _append_lines(path, [quarantine_line(s["source"]) for s in worst if s["source"] not in have])
    for s in worst:
        print(f"quarantined {safe(repr(s['source']))}: WER {s['wer']:.1%} over {s['hours']:.3f} h ({found[0]})")
    print(f"in {safe(path)}; rebuild with `wsdata build ... --quarantine {safe(path)}`")
    return 0


def _quarantined(path: Path) -> frozenset[str] | None:
    """The sources quarantine.txt already names (empty when there is none); None, after saying why,
    when it cannot be read as UTF-8 text. A link or FIFO in its place is a VerdictsError."""
    from wsdata.hygiene import parse_quarantine
    from wsdata.review.verdicts import read_own

    data = read_own(path)
    try:
        return parse_quarantine(data.decode("utf-8")) if data is not None else frozenset()
    except UnicodeDecodeError as e:
        _err(f"wsdata review: {path}: cannot read it as UTF-8 text ({e})")
        return None


def _append_lines(path: Path, lines: list[str]) -> None:
    """Append `lines` to quarantine.txt: a regular file of the build folder only, never through a link."""
    from wsdata.review.verdicts import open_for_append

    if not lines:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_for_append(path)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode("utf-8"))
    finally:
        os.close(fd)
