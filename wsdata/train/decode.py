"""Language detection, greedy decoding (text only, or with Whisper's timestamp tokens) and word error
rate, for evaluation, `wsdata transcribe` and the agreement check. Both decoders take the encoder's
output (`model.get_encoder()(features)`), so a caller that needs it twice runs the encoder, most of
the model's compute, once."""

from __future__ import annotations

import inspect
import re
import unicodedata
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch
from rapidfuzz.distance import Levenshtein

from wsdata.vocab import Vocab

if TYPE_CHECKING:
    from transformers.modeling_outputs import BaseModelOutput


@torch.no_grad()
def detect_language(model: torch.nn.Module, enc: BaseModelOutput, vocab: Vocab) -> list[str]:
    """Whisper's language detection: the likeliest language token after <|startoftranscript|>, per clip."""
    h = enc.last_hidden_state  # (clips, 1500, d_model)
    sot = torch.full((len(h), 1), vocab.sot, device=h.device)
    logits = model(encoder_outputs=enc, decoder_input_ids=sot, use_cache=False).logits[:, 0]
    codes = list(vocab.langs)
    ids = torch.tensor([vocab.langs[c] for c in codes], device=logits.device)
    return [codes[i] for i in logits[:, ids].argmax(-1).tolist()]


def timestamp_rules(vocab: Vocab, begin_index: int) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Whisper's timestamp rules (pairs, never decreasing, the first within 1 s, a timestamp when
    their total probability beats every text token), as transformers implements them for
    `generate(return_timestamps=True)`: scores (batch, vocab) of the next token after input_ids
    (batch, begin_index + generated) -> scores with the forbidden tokens at -inf."""
    from types import SimpleNamespace

    from transformers.generation.logits_process import WhisperTimeStampLogitsProcessor

    cfg = SimpleNamespace(
        no_timestamps_token_id=vocab.notimestamps,
        eos_token_id=vocab.eot,
        bos_token_id=None,
        max_initial_timestamp_index=50,  # the first timestamp within 1 s, as openai/whisper decodes
    )
    return WhisperTimeStampLogitsProcessor(cfg, begin_index=begin_index)  # type: ignore[arg-type]


@torch.no_grad()
def greedy(
    model: torch.nn.Module,
    enc: BaseModelOutput,
    prefixes: list[list[int]],
    vocab: Vocab,
    max_tokens: int = 224,
    timestamps: bool = False,
    suppress: Sequence[int] = (),
    suppress_at_start: Sequence[int] = (),
) -> list[list[int]]:
    """Tokens after each prefix, argmax until EOT. Text only after <|sot|> <|lang|> <|task|>
    <|notimestamps|>; with `timestamps`, after <|sot|> <|lang|> <|task|>, text between timestamp
    tokens under Whisper's timestamp rules (`timestamp_rules`). `suppress` tokens are never chosen,
    `suppress_at_start` not as the first token: a checkpoint's `suppress_tokens` and
    `begin_suppress_tokens`, as openai-whisper and faster-whisper decode.

    Prefixes of one length (the usual case) decode with the key/value cache: one new token a step.
    Mixed lengths re-run the decoder over the padded sequences each step (text only)."""
    if len({len(p) for p in prefixes}) != 1:
        if timestamps:
            raise ValueError("greedy with timestamps needs prefixes of one length")
        return _greedy_uncached(model, enc, prefixes, vocab, max_tokens, list(suppress), list(suppress_at_start))
    device = enc.last_hidden_state.device
    cur = torch.tensor(prefixes, device=device)
    rules = timestamp_rules(vocab, len(prefixes[0])) if timestamps else None
    seqs = cur  # (alive, prefix + steps so far): what the timestamp rules look at
    alive = list(range(len(prefixes)))  # the rows still decoding: finished ones leave the batch and its cache
    done = torch.zeros(len(prefixes), dtype=torch.bool, device=device)
    out_ids: list[list[int]] = [[] for _ in prefixes]
    past, first = None, True
    # transformers 5 names the key/value cache `cache`; 4.x named it `past_key_values`
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    for _ in range(max_tokens):
        kw = {} if past is None else {cache_kw: past}
        out = model(encoder_outputs=enc, decoder_input_ids=cur, use_cache=True, **kw)
        past = out.get("cache", out.get("past_key_values"))
        last = out.logits[:, -1].float()
        last[:, list(suppress) + (list(suppress_at_start) if first else [])] = -torch.inf
        first = False
        if rules is None:
            last[:, vocab.ts_begin :] = -torch.inf  # text only
        else:
            last = rules(seqs, last)
        nxt = torch.where(done, torch.full_like(done, vocab.eot, dtype=torch.long), last.argmax(-1))
        for row, t in zip(alive, nxt.tolist()):
            if t != vocab.eot:
                out_ids[row].append(t)
        done |= nxt == vocab.eot
        if bool(done.all()):
            break
        if rules is not None:
            seqs = torch.cat([seqs, nxt[:, None]], 1)
        if bool(done.any()) and hasattr(past, "batch_select_indices"):  # finished rows leave (else they decode EOT)
            keep = (~done).nonzero().flatten()
            past.batch_select_indices(keep)
            enc = type(enc)(last_hidden_state=enc.last_hidden_state[keep])
            alive = [alive[i] for i in keep.tolist()]
            seqs, nxt, done = seqs[keep], nxt[keep], done[keep]
        cur = nxt[:, None]
    return out_ids


def _greedy_uncached(
    model: torch.nn.Module,
    enc: BaseModelOutput,
    prefixes: list[list[int]],
    vocab: Vocab,
    max_tokens: int,
    suppress: list[int] | None = None,
    suppress_at_start: list[int] | None = None,
) -> list[list[int]]:
    seqs = [list(p) for p in prefixes]
    done = [False] * len(seqs)
    n0 = [len(p) for p in prefixes]
    for _ in range(max_tokens):
        n = max(len(s) for s in seqs)
        ids = torch.tensor([s + [vocab.eot] * (n - len(s)) for s in seqs], device=enc.last_hidden_state.device)
        logits = model(encoder_outputs=enc, decoder_input_ids=ids, use_cache=False).logits
        last = logits[torch.arange(len(seqs)), torch.tensor([len(s) - 1 for s in seqs])]
        last[:, vocab.ts_begin :] = -torch.inf  # text only
        last[:, suppress or []] = -torch.inf
        for i, (sq, k) in enumerate(zip(seqs, n0)):
            if len(sq) == k:
                last[i, suppress_at_start or []] = -torch.inf
        nxt = last.argmax(-1).tolist()
        for i, t in enumerate(nxt):
            if not done[i]:
                seqs[i].append(t)
                done[i] = t == vocab.eot
        if all(done):
            break
    return [[t for t in s[k:] if t != vocab.eot] for s, k in zip(seqs, n0)]


def normalize(text: str) -> list[str]:
    """Words for WER: NFKC, lower case, punctuation dropped (the paper's basic normaliser)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return re.sub(r"[^\w\s']", " ", text).split()


def edit_counts(refs: list[str], hyps: list[str]) -> tuple[int, int]:
    """(word edits, reference words) over normalised pairs: WER is their ratio."""
    errors = sum(Levenshtein.distance(normalize(r), normalize(h)) for r, h in zip(refs, hyps))
    return errors, sum(len(normalize(r)) for r in refs)
