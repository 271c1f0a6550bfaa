"""Word error counts on normalised text."""

import pytest

pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from wsdata.train.decode import edit_counts, normalize

pytestmark = pytest.mark.model


def test_normalisation_and_counts():
    assert normalize("Hello, World! It's ﬁne.") == ["hello", "world", "it's", "fine"]
    assert edit_counts(["Hello, World!"], ["hello world"]) == (0, 2)
    assert edit_counts(["a b c", "d e"], ["a x", "d e f"]) == (3, 5)  # 1 substitution + 1 deletion, 1 insertion
