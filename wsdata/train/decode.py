"""Language detection, greedy decoding (no timestamps) and word error rate, for evaluation and
`wsdata transcribe`. Both decoders take the encoder's output (`model.get_encoder()(features)`), so
a caller that needs it twice runs the encoder, most of the model's compute, once."""

from __future__ import annotations

import inspect
import re
import unicodedata
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


@torch.no_grad()
def greedy(
    model: torch.nn.Module, enc: BaseModelOutput, prefixes: list[list[int]], vocab: Vocab, max_tokens: int = 224
) -> list[list[int]]:
    """Text tokens after each prefix (<|sot|> <|lang|> <|task|> <|notimestamps|>), argmax until EOT.

    Prefixes of one length (the usual case) decode with the key/value cache: one new token a step.
    Mixed lengths re-run the decoder over the padded sequences each step."""
    if len({len(p) for p in prefixes}) != 1:
        return _greedy_uncached(model, enc, prefixes, vocab, max_tokens)
    device = enc.last_hidden_state.device
    cur = torch.tensor(prefixes, device=device)
    done = torch.zeros(len(prefixes), dtype=torch.bool, device=device)
    past, steps = None, []
    # transformers 5 names the key/value cache `cache`; 4.x named it `past_key_values`
    cache_kw = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    for _ in range(max_tokens):
        kw = {} if past is None else {cache_kw: past}
        out = model(encoder_outputs=enc, decoder_input_ids=cur, use_cache=True, **kw)
        past = out.get("cache", out.get("past_key_values"))
        last = out.logits[:, -1].float()
        last[:, vocab.ts_begin :] = -torch.inf  # text only
        nxt = torch.where(done, torch.full_like(done, vocab.eot, dtype=torch.long), last.argmax(-1))
        steps.append(nxt)
        done |= nxt == vocab.eot
        if bool(done.all()):
            break
        cur = nxt[:, None]
    tokens = torch.stack(steps, 1).tolist() if steps else [[] for _ in prefixes]
    return [[t for t in row[: row.index(vocab.eot)] if t != vocab.eot] if vocab.eot in row else row for row in tokens]


def _greedy_uncached(
    model: torch.nn.Module, enc: BaseModelOutput, prefixes: list[list[int]], vocab: Vocab, max_tokens: int
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
