"""Whisper's log-mel frontend in torch, so it runs batched on the GPU (openai/whisper audio.py).

25 ms Hann windows (n_fft 400), 10 ms hop, |STFT|² without the last frame, mel filters (Slaney,
as Whisper's), log10 clamped at 1e-10, then max(x, x.max() - 8) per clip and (x + 4) / 4.
Matches transformers' WhisperFeatureExtractor to 1e-4 (tests/train/test_features.py).
"""

from __future__ import annotations

import torch
from torch import nn

from wsdata.constants import HOP_LENGTH, N_FFT


class LogMel(nn.Module):
    def __init__(self, n_mels: int = 80):
        super().__init__()
        from transformers import WhisperFeatureExtractor

        filters = torch.from_numpy(WhisperFeatureExtractor(feature_size=n_mels).mel_filters.T.copy()).float()
        self.register_buffer("filters", filters, persistent=False)  # (n_mels, n_fft // 2 + 1)
        self.register_buffer("window", torch.hann_window(N_FFT), persistent=False)

    @torch.no_grad()
    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio (batch, samples) float at 16 kHz, already padded to 30 s -> (batch, n_mels, frames)."""
        stft = torch.stft(audio.float(), N_FFT, HOP_LENGTH, window=self.window, return_complex=True)
        power = stft[..., :-1].abs() ** 2
        mel = self.filters @ power
        log = torch.clamp(mel, min=1e-10).log10()
        log = torch.maximum(log, log.amax(dim=(1, 2), keepdim=True) - 8.0)
        return (log + 4.0) / 4.0
