"""Greedy decoding (no timestamps) and word error rate, for evaluation and `wsdata transcribe`."""

from __future__ import annotations

import re
import unicodedata

import torch
from rapidfuzz.distance import Levenshtein

from wsdata.train.vocab import Vocab


@torch.no_grad()
def greedy(model: torch.nn.Module, features: torch.Tensor, prefixes: list[list[int]], vocab: Vocab,
           max_tokens: int = 224) -> list[list[int]]:  # fmt: skip
    """Text tokens after each prefix (<|sot|> <|lang|> <|task|> <|notimestamps|>), argmax until EOT."""
    enc = model.get_encoder()(features)
    seqs = [list(p) for p in prefixes]
    done = [False] * len(seqs)
    n0 = [len(p) for p in prefixes]
    for _ in range(max_tokens):
        n = max(len(s) for s in seqs)
        ids = torch.tensor([s + [vocab.eot] * (n - len(s)) for s in seqs], device=features.device)
        logits = model(encoder_outputs=enc, decoder_input_ids=ids).logits
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


def wer(refs: list[str], hyps: list[str]) -> float:
    errors = sum(Levenshtein.distance(normalize(r), normalize(h)) for r, h in zip(refs, hyps))
    words = sum(len(normalize(r)) for r in refs)
    return errors / max(1, words)
