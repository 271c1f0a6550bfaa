"""Word error counts on normalised text; greedy decoding under Whisper's timestamp rules."""

import pytest

torch = pytest.importorskip("torch", reason="the train extra is not installed (make test installs it)")

from wsdata.train.decode import edit_counts, greedy, normalize

pytestmark = pytest.mark.model


def test_normalisation_and_counts():
    assert normalize("Hello, World! It's ﬁne.") == ["hello", "world", "it's", "fine"]
    assert edit_counts(["Hello, World!"], ["hello world"]) == (0, 2)
    assert edit_counts(["a b c", "d e"], ["a x", "d e f"]) == (3, 5)  # 1 substitution + 1 deletion, 1 insertion


class _Scripted(torch.nn.Module):
    """A stand-in decoder whose next-token scores follow a script, one entry per generated token:
    {token: score}, every other token at -10. The key/value cache is a step counter."""

    def __init__(self, script: list[dict[int, float]], n_vocab: int):
        super().__init__()
        self.script, self.n_vocab = script, n_vocab

    def forward(self, encoder_outputs, decoder_input_ids, use_cache, past_key_values=None):
        step = 0 if past_key_values is None else past_key_values
        logits = torch.full((len(decoder_input_ids), decoder_input_ids.shape[1], self.n_vocab), -10.0)
        for tok, score in self.script[min(step, len(self.script) - 1)].items():
            logits[:, -1, tok] = score
        out = {"past_key_values": step + 1}
        return type("Out", (dict,), {"logits": logits})(out)


def test_greedy_with_timestamps_follows_whispers_rules():
    from types import SimpleNamespace

    from wsdata.lid.audio import _timed_segments
    from wsdata.vocab import Vocab

    v = Vocab.bundled()
    a, ts = v.encode("hello")[0], v.ts_begin

    def run(script: list[dict[int, float]], timestamps: bool = True) -> list[int]:
        enc = SimpleNamespace(last_hidden_state=torch.zeros(1, 1500, 8))
        prefix = [v.sot, v.lang("en"), v.transcribe] + ([] if timestamps else [v.notimestamps])
        return greedy(_Scripted(script, v.n_vocab), enc, [prefix], v, max_tokens=8, timestamps=timestamps)[0]

    script = [
        {a: 5, ts + 25: 4, ts + 120: 4.5},  # text preferred, but the first token is a timestamp within 1 s
        {ts + 100: 6, a: 5},  # after a lone timestamp comes text
        {a: 5},
        {ts + 100: 6, a: 5},  # a timestamp closes the segment
        {ts + 50: 12, v.eot: 10},  # never a timestamp below the last one: EOT
    ]
    got = run(script)
    assert got == [ts + 25, a, a, ts + 100]
    assert _timed_segments(got, v.eot, ts, v.decode) == [(500, 2000, "hello hello")]
    # Text only: timestamps never appear, whatever the model prefers.
    assert all(t < v.eot for t in run(script, timestamps=False))
