"""The paper's multitask target (§2.3) for one shard row: decoder input ids and masked labels.

    [<|startofprev|> previous text] <|startoftranscript|> <|lang|> | <|nospeech|>
    <|transcribe|> | <|translate|>  [<|notimestamps|>]  text with <|t|> around each cue  <|endoftext|>

Previous text is added with probability p_prev and gets no loss; timestamps are used with
probability p_timestamps when the row has them (relative to the segment, 20 ms steps). A last cue
that runs past the 30 s window gets only its start token, as in the paper (§2.3): the model learns
that the next window begins there.
"""

from __future__ import annotations

import random
from typing import Any

from wsdata.constants import CHUNK_MS, MAX_TARGET_TOKENS
from wsdata.vocab import Vocab, target_length

IGNORE = -100  # label of a position without loss


class BadRow(ValueError):
    """A row that cannot become a target (too long, or a language outside the vocabulary)."""


def target(
    row: dict[str, Any], vocab: Vocab, rng: random.Random, p_prev: float = 0.5, p_timestamps: float = 0.5
) -> tuple[list[int], list[int]]:
    """(input_ids, labels), equal lengths <= 447: labels[i] is the token after input_ids[i]."""
    prompt: list[int] = []
    if row.get("prev_text") and rng.random() < p_prev:
        prompt = [vocab.prev, *vocab.encode(row["prev_text"])[-(MAX_TARGET_TOKENS // 2 - 1) :]]
    if row.get("no_speech"):
        body = [vocab.sot, vocab.nospeech, vocab.eot]
    else:
        task = vocab.translate if row.get("task") == "translate" else vocab.transcribe
        try:
            start = [vocab.sot, vocab.lang(row["language"]), task]
        except KeyError as e:
            raise BadRow(f"row {row.get('id')}: {e.args[0]}") from None
        use_ts = bool(row.get("timestamps")) and rng.random() < p_timestamps
        middle, n_text, n_ts = _middle(row, vocab, use_ts)
        n = target_length(n_text, n_ts)  # the formula the build's token gate uses
        if n > MAX_TARGET_TOKENS:
            raise BadRow(f"row {row.get('id')}: target of {n} tokens > {MAX_TARGET_TOKENS}")
        body = [*start, *middle, vocab.eot]
        assert len(body) == n
    prompt = prompt[: max(0, MAX_TARGET_TOKENS - len(body))]  # the prompt yields room to the target
    seq = prompt + body
    labels = seq[1:]
    for i in range(len(prompt)):  # positions that predict the prompt and <|startoftranscript|>
        labels[i] = IGNORE
    return seq[:-1], labels


def _middle(row: dict[str, Any], vocab: Vocab, timestamps: bool) -> tuple[list[int], int, int]:
    """The target between the task token and <|endoftext|>, its text tokens and timestamp tokens."""
    cues = row.get("timestamps") or []
    if not (cues and timestamps):
        text = vocab.encode(row.get("text") or "")
        return [vocab.notimestamps, *text], len(text), 0
    out, n_text, n_ts = [], 0, 0
    for c in cues:
        if c["end_ms"] > CHUNK_MS:  # only partly inside the window: its start only
            if c["start_ms"] < CHUNK_MS:
                out.append(vocab.timestamp(c["start_ms"]))
                n_ts += 1
            break
        text = vocab.encode(c["text"])
        out += [vocab.timestamp(c["start_ms"]), *text, vocab.timestamp(c["end_ms"])]
        n_text, n_ts = n_text + len(text), n_ts + 2
    if not out:  # no cue starts inside the window
        return [vocab.notimestamps], 0, 0
    return out, n_text, n_ts
