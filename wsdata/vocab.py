"""Whisper's multilingual vocabulary (51,865 ids, identical to OpenAI's) and the length of the
paper's target, shared by the build's token gate (wsdata/stages/text.py) and the trainer
(wsdata/train/targets.py). Torch-free: the build uses it.

Text tokens (byte-level BPE) come from a `tokenizers` tokenizer.json: the one shipped with wsdata
(wsdata/assets) for models trained from scratch, or a checkpoint's own. Special tokens are found by
name; the 1,501 timestamp tokens <|0.00|> ... <|30.00|> follow <|notimestamps|>.
"""

from __future__ import annotations

import functools
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer

from wsdata import languages
from wsdata.constants import CHUNK_MS, TIMESTAMP_RESOLUTION_MS

ASSET = Path(__file__).resolve().parent / "assets" / "whisper_multilingual_tokenizer.json.gz"
N_TIMESTAMPS = CHUNK_MS // TIMESTAMP_RESOLUTION_MS + 1  # 1,501: 0.00 .. 30.00 s in 20 ms steps
SOT_SEQUENCE = 3  # <|startoftranscript|> <|lang|> <|transcribe|> or <|translate|>


def target_length(text_tokens: int, timestamp_tokens: int) -> int:
    """Tokens in the paper's target (§2.3) after any prompt: the start-of-transcript sequence, the
    timestamp tokens (or <|notimestamps|> when there are none), the text, <|endoftext|>."""
    return SOT_SEQUENCE + max(timestamp_tokens, 1) + text_tokens + 1


@dataclass
class Vocab:
    tokenizer: Tokenizer
    json_text: str  # the tokenizer.json it came from (saved beside trained models)

    @classmethod
    @functools.cache
    def bundled(cls) -> Vocab:
        """The vocabulary shipped with wsdata, read once per process."""
        return cls.from_json(gzip.decompress(ASSET.read_bytes()).decode("utf-8"))

    @classmethod
    def from_folder(cls, folder: Path) -> Vocab:
        """The checkpoint's own tokenizer.json, read as data (bounded; ValueError naming the file
        when it is empty, broken, not an object, or not a Whisper tokenizer)."""
        from wsdata.modelspec import ModelFileError, json_object

        path = Path(folder) / "tokenizer.json"
        if not path.is_file():
            raise FileNotFoundError(f"{folder}: no tokenizer.json (a Whisper checkpoint saved with its tokenizer)")
        json_object(path)  # ModelFileError (a ValueError) for a file too large, or no JSON object
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise ModelFileError(f"{path}: {e}") from None

    @classmethod
    def from_json(cls, text: str) -> Vocab:
        """ValueError for text that is not a `tokenizers` tokenizer of Whisper's special tokens."""
        try:
            tokenizer = Tokenizer.from_str(text)
        except Exception as e:  # noqa: BLE001 - tokenizers raises a bare Exception for a file it cannot read
            first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ValueError(f"not a tokenizers tokenizer.json ({first})") from None
        return cls(tokenizer, text)

    def __post_init__(self) -> None:
        tokens = json.loads(self.json_text).get("added_tokens", [])
        if not isinstance(tokens, list) or not all(
            isinstance(t, dict) and isinstance(t.get("content"), str) and type(t.get("id")) is int for t in tokens
        ):
            raise ValueError("not a Whisper tokenizer: its added_tokens are not {content, id} objects")
        added = {t["content"]: t["id"] for t in tokens}
        missing = [
            k
            for k in (
                "<|endoftext|>",
                "<|startoftranscript|>",
                "<|translate|>",
                "<|transcribe|>",
                "<|startofprev|>",
                "<|notimestamps|>",
            )
            if k not in added
        ]
        if missing:
            raise ValueError(f"not a Whisper tokenizer: no {', '.join(missing)}")
        self.langs = {
            k[2:-2]: v for k, v in added.items() if 2 <= len(k) - 4 <= 3 and k[2:-2].isalpha() and k.islower()
        }
        if not self.langs:
            raise ValueError(
                "an English-only Whisper tokenizer (no language tokens): wsdata trains multilingual models"
            )
        self.eot, self.sot = added["<|endoftext|>"], added["<|startoftranscript|>"]
        self.translate, self.transcribe = added["<|translate|>"], added["<|transcribe|>"]
        self.prev = added["<|startofprev|>"]
        self.nospeech = added.get("<|nospeech|>", added.get("<|nocaptions|>"))
        self.notimestamps = added["<|notimestamps|>"]
        self.ts_begin = self.notimestamps + 1
        self.n_vocab = self.ts_begin + N_TIMESTAMPS  # 51865 for the multilingual vocabulary

    def lang(self, code: str) -> int:
        code = languages.whisper(code)
        if code not in self.langs:
            raise KeyError(f"language {code!r} is not in Whisper's vocabulary")
        return self.langs[code]

    def timestamp(self, ms: int) -> int:
        return self.ts_begin + min(N_TIMESTAMPS - 1, max(0, round(ms / TIMESTAMP_RESOLUTION_MS)))

    def encode(self, text: str) -> list[int]:
        """Text tokens of a target: with its leading space, as Whisper emits text."""
        text = text.strip()
        return self.tokenizer.encode(" " + text, add_special_tokens=False).ids if text else []

    def decode(self, ids: list[int]) -> str:
        """Text of the text tokens in `ids` (special and timestamp tokens skipped)."""
        return self.tokenizer.decode([i for i in ids if i < self.eot], skip_special_tokens=True).strip()
