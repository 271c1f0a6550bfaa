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
