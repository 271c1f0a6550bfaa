"""wsdata: Whisper-style speech corpora from crawled audio and transcripts."""

__version__ = "0.1.0"
