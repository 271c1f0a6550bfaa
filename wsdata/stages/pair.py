"""The pair stage: find the audio and the transcript, parse the transcript, decode the audio.

Split in two so the cheap half runs first: `PairTranscript` (no audio decode: existence checks and
the transcript) and `PairAudio` (decode, then the checks that need the audio's length). Text
stages run between the two, so a document rejected on its text costs no decode.
"""

from __future__ import annotations

from wsdata.config import BuildConfig
from wsdata.constants import samples_to_ms
from wsdata.datamodel import Document, Reject
from wsdata.io import fs
from wsdata.io.audio import AudioError, open_pcm
from wsdata.io.captions import TranscriptError, detect_format, parse, untimed
from wsdata.io.textenc import UndecodableText, decode_text
from wsdata.stages.base import DocStage


def remote(cfg: BuildConfig) -> fs.Remote:
    """The bounds of a remote read, from `[limits]`."""
    lim = cfg.limits
    return fs.Remote(
        timeout_s=lim.remote_timeout_s,
        max_bytes=lim.max_remote_bytes,
        total_s=lim.remote_total_s,
        min_bytes_per_s=lim.remote_min_bytes_per_s,
    )


class PairTranscript(DocStage):
    name = "pair"
    step = "pair/transcript"

    def process(self, doc: Document) -> Reject | None:
        roots = self.cfg.limits.allowed_roots
        for uri in (doc.audio_uri, doc.transcript_uri):
            if roots and uri and fs.is_local(uri) and not fs.under(uri, roots):
                return Reject("pair.path_outside_roots", f"{uri} is outside limits.allowed_roots")
        try:
            size = fs.size(doc.audio_uri, remote(self.cfg))
        except fs.NotAFile as e:
            return Reject("pair.audio_not_a_file", str(e))
        except OSError as e:
            return Reject("pair.audio_unreadable", f"{doc.audio_uri}: {type(e).__name__}: {e}")
        if size is None:
            return Reject("pair.audio_missing", f"no such file: {doc.audio_uri}")
        if size == 0:
            return Reject("pair.audio_empty", f"{doc.audio_uri} has 0 bytes (an interrupted download?)")
        if doc.transcript_uri is None:
            try:
                doc.transcript = untimed(doc.inline_text or "", "inline")
            except TranscriptError as e:
                return Reject(f"pair.{e.code}", f"inline text: {e}")
            return None
        return self._load_transcript(doc)

    def _load_transcript(self, doc: Document) -> Reject | None:
        uri = doc.transcript_uri
        assert uri is not None
        try:
            data = fs.read_bytes(uri, self.cfg.limits.max_transcript_bytes, remote(self.cfg))
        except FileNotFoundError:
            return Reject("pair.transcript_missing", f"no such file: {uri}")
        except fs.NotAFile as e:
            return Reject("pair.transcript_not_a_file", str(e))
        except fs.TooLarge as e:
            return Reject("pair.transcript_too_large", f"{e} (limits.max_transcript_bytes)")
        except fs.RemoteStalled as e:  # the message names the limit that tripped
            return Reject(f"pair.{e.code}", f"transcript {e}")
        except OSError as e:
            return Reject("pair.transcript_unreadable", f"{uri}: {type(e).__name__}: {e}")
        if not data.strip():
            return Reject("pair.transcript_empty", f"{uri} is empty")
        try:
            text, encoding = decode_text(data, self.cfg.pair.fallback_encodings)
            tr = parse(text, detect_format(uri, text))
        except UndecodableText as e:
            return Reject("pair.transcript_undecodable", f"{uri}: {e}")
        except TranscriptError as e:
            return Reject(f"pair.{e.code}", f"{uri}: {e}")
        tr.encoding = encoding
        doc.transcript = tr
        if len(tr.cues) + len(tr.bad_cues) > self.cfg.limits.max_cues:
            n = len(tr.cues) + len(tr.bad_cues)
            return Reject(
                "pair.transcript_too_many_cues", f"{uri}: {n:,} cues > limits.max_cues {self.cfg.limits.max_cues:,}"
            )
        if tr.format in ("txt", "inline"):
            return None
        n_bad, n_all = len(tr.bad_cues), len(tr.bad_cues) + len(tr.cues)
        if n_all == 0:
            return Reject("pair.transcript_empty", f"{uri}: no cues with text")
        if n_bad / n_all > self.cfg.pair.max_bad_cue_fraction:
            b = tr.bad_cues[0]
            return Reject(
                "pair.transcript_malformed",
                f"{uri}: {n_bad} of {n_all} cues have unusable timings (> {self.cfg.pair.max_bad_cue_fraction:.0%}),"
                f" e.g. line {b.line}: {b.timing!r}",
            )
        if not tr.cues:
            return Reject("pair.transcript_empty", f"{uri}: no cues with text")
        return None


class PairAudio(DocStage):
    name = "pair"
    step = "pair/audio"

    def process(self, doc: Document) -> Reject | None:
        try:
            with self.clock.timed("decode"):
                doc.samples = open_pcm(
                    doc.audio_uri, self.cfg.limits.max_audio_ms, remote(self.cfg), backend=self.cfg.decode.backend
                )
        except AudioError as e:
            return Reject(f"pair.{e.code}", f"{doc.audio_uri}: {e}")
        doc.duration_ms = samples_to_ms(len(doc.samples))
        tr = doc.transcript
        assert tr is not None
        if not tr.timed:
            if doc.duration_ms > self.cfg.segment.max_ms:
                return Reject(
                    "pair.inline_text_too_long",
                    f"untimed {tr.format} text over {doc.duration_ms / 1000:.1f} s of audio "
                    f"(> {self.cfg.segment.max_ms / 1000:.0f} s); give a timed transcript (srt, vtt, json)",
                )
            return None
        # A transcript whose cue time lies mostly after the audio's end belongs to another file
        # or has a wrong timebase: its early cues would be misaligned too, so drop it whole.
        limit = doc.duration_ms + self.cfg.pair.past_end_tolerance_ms
        total = sum(c.duration_ms for c in tr.cues)
        past = sum(c.end_ms - max(c.start_ms, limit) for c in tr.cues if c.end_ms > limit)
        if total and past / total > self.cfg.pair.max_past_end_fraction:
            return Reject(
                "pair.cues_past_end",
                f"{past / total:.0%} of the cue time lies after the audio's end at {doc.duration_ms / 1000:.1f} s"
                f" (last cue ends at {tr.cues[-1].end_ms / 1000:.1f} s): wrong audio or timebase",
            )
        return None
