"""Audits: sampled review queues written by every build (sample.py), the interactive review
command (tui.py, verdicts.py), and the precision report with Wilson intervals (report.py, html.py)."""
