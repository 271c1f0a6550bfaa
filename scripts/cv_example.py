"""A Common Voice-style folder made from the bundled real speech (tests/data/speech, CC-BY-SA/CC-BY:
tests/data/ATTRIBUTION.md): clips/*.mp3, validated.tsv and train/dev/test.tsv. For trying
`wsdata import` without downloading a release (docs/import-export.md).

    python scripts/cv_example.py DEST [--lang it] [--n 8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.helpers import commonvoice_folder

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dest")
    p.add_argument("--lang", default="it", choices=["en", "es", "fr", "it", "ru"])
    p.add_argument("--n", type=int, default=8)
    a = p.parse_args()
    rows = commonvoice_folder(Path(a.dest), a.lang, a.n)
    print(f"wrote {len(rows)} {a.lang} clips to {a.dest}/ (clips/, validated.tsv, train/dev/test.tsv)")
