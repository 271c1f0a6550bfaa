"""Audio and segmentation constants shared by every module (the Whisper frontend's numbers).

Time is kept as integer milliseconds (or integer samples) everywhere; never accumulate floats.
"""

SAMPLE_RATE = 16_000  # Hz; every decoded signal is 16 kHz mono int16
SAMPLES_PER_MS = SAMPLE_RATE // 1000  # 16
CHUNK_MS = 30_000  # Whisper's input window: 30 s
CHUNK_SAMPLES = CHUNK_MS * SAMPLES_PER_MS  # 480,000
HOP_LENGTH = 160  # samples between mel frames (10 ms)
N_FFT = 400  # 25 ms analysis window
TIMESTAMP_RESOLUTION_MS = 20  # Whisper's timestamp tokens step by 20 ms
MAX_TARGET_TOKENS = 448  # decoder context

VAD_FRAME_MS = 30  # webrtcvad accepts 10, 20 or 30 ms frames
VAD_FRAME_SAMPLES = VAD_FRAME_MS * SAMPLES_PER_MS  # 480


def ms_to_samples(ms: int) -> int:
    return ms * SAMPLES_PER_MS


def samples_to_ms(n: int) -> int:
    return n // SAMPLES_PER_MS
