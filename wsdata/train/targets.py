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
from wsdata.train.vocab import Vocab

IGNORE = -100  # label of a position without loss


class BadRow(ValueError):
    """A row that cannot become a target (too long, or a language outside the vocabulary)."""


def target(row: dict[str, Any], vocab: Vocab, rng: random.Random, p_prev: float = 0.5,
           p_timestamps: float = 0.5) -> tuple[list[int], list[int]]:  # fmt: skip
    """(input_ids, labels), equal lengths <= 447: labels[i] is the token after input_ids[i]."""
    prompt: list[int] = []
    if row.get("prev_text") and rng.random() < p_prev:
        prompt = [vocab.prev, *vocab.encode(row["prev_text"])[-(MAX_TARGET_TOKENS // 2 - 1) :]]
    if row.get("no_speech"):
        body = [vocab.sot, vocab.nospeech, vocab.eot]
    else:
        task = vocab.translate if row.get("task") == "translate" else vocab.transcribe
        try:
            body = [vocab.sot, vocab.lang(row["language"]), task]
        except KeyError as e:
            raise BadRow(f"row {row.get('id')}: {e.args[0]}") from None
        cues = row.get("timestamps") or []
        if cues and rng.random() < p_timestamps:
            for c in cues:
                if c["end_ms"] > CHUNK_MS:  # only partly inside the window
                    body += [vocab.timestamp(c["start_ms"])] if c["start_ms"] < CHUNK_MS else []
                    break
                body += [vocab.timestamp(c["start_ms"]), *vocab.encode(c["text"]), vocab.timestamp(c["end_ms"])]
        else:
            body += [vocab.notimestamps, *vocab.encode(row.get("text") or "")]
        body.append(vocab.eot)
    if len(body) > MAX_TARGET_TOKENS:
        raise BadRow(f"row {row.get('id')}: target of {len(body)} tokens > {MAX_TARGET_TOKENS}")
    prompt = prompt[: max(0, MAX_TARGET_TOKENS - len(body))]  # the prompt yields room to the target
    seq = prompt + body
    labels = seq[1:]
    for i in range(len(prompt)):  # positions that predict the prompt and <|startoftranscript|>
        labels[i] = IGNORE
    return seq[:-1], labels
