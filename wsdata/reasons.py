"""Every reason code a build can write, with the sentence the docs and the card show for it.

A reason is `stage.code`; the stage names are fixed by the contract. `docs/reasons.md` is
generated from this table (`python -m wsdata.reasons > docs/reasons.md`), so keep them together.
"""

from __future__ import annotations

STAGES = ("read", "pair", "text", "machine", "language", "dedup", "segment", "agree")

REASONS: dict[str, str] = {
    # read: the crawl line itself
    "read.invalid_json": "The line is not valid JSON (cut off, not JSON at all, or nested too deeply to parse).",
    "read.not_an_object": "The line is JSON but not an object.",
    "read.missing_field": "A required field (`id`, `audio`, and `transcript` or `text`) is absent.",
    "read.invalid_field": "A field has the wrong type or an unknown value (see the detail).",
    "read.duplicate_id": "The `id` was already used by an earlier line; the first one is kept.",
    "read.line_too_long": "The line is longer than `limits.max_line_bytes` (it is skipped unread).",
    "read.unsupported_source": (
        "`wsdata import`: the record's audio is of a kind that is never run or loaded: a lhotse `command`,"
        " `memory` or `shar` source or one of an unknown type, a mixed or padding cut, a recording in several"
        " files, or audio transforms other than resampling."
    ),
    # pair: finding, reading and parsing the audio and transcript
    "pair.audio_missing": "The audio path or URI does not exist.",
    "pair.path_outside_roots": "A local audio or transcript path lies outside `limits.allowed_roots` (never read).",
    "pair.audio_empty": "The audio file has 0 bytes.",
    "pair.audio_not_media": "The audio file is text (an HTML or XML error page saved as audio?).",
    "pair.audio_undecodable": "ffmpeg cannot decode the audio (the detail quotes ffmpeg).",
    "pair.audio_unreadable": "The audio could not be opened or read (permissions, network).",
    "pair.audio_not_a_file": "The audio path is a folder, device, FIFO or socket, not a regular file (never read).",
    "pair.audio_too_long": "The audio lasts longer than `limits.max_audio_ms` (decoding stops there).",
    "pair.audio_too_large": "The remote audio file is larger than `limits.max_remote_bytes` (the download stops).",
    "pair.remote_deadline": (
        "A remote audio or transcript file was not read within `limits.remote_total_s` (the read stops)."
    ),
    "pair.remote_too_slow": (
        "A remote audio or transcript file came slower than `limits.remote_min_bytes_per_s` on average,"
        " 10 s after its request (the read stops)."
    ),
    "pair.transcript_missing": "The transcript path or URI does not exist.",
    "pair.transcript_empty": "The transcript is empty or holds no caption text.",
    "pair.transcript_unreadable": "The transcript could not be opened or read.",
    "pair.transcript_not_a_file": "The transcript path is a folder, device, FIFO or socket, not a regular file.",
    "pair.transcript_too_large": "The transcript file is larger than `limits.max_transcript_bytes` (never read whole).",
    "pair.transcript_too_many_cues": "The transcript has more cues than `limits.max_cues`.",
    "pair.transcript_undecodable": "The transcript's bytes are in no supported text encoding.",
    "pair.transcript_unsupported": "The transcript's format is none of srt, vtt, json, txt.",
    "pair.transcript_malformed": "Too many cues have unparsable, negative or reversed timings.",
    "pair.inline_text_too_long": "Untimed text over audio longer than 30 s cannot be cut into segments.",
    "pair.cues_past_end": "Much of the transcript lies after the end of the audio (wrong file or timebase).",
    # machine: the transcript looks like the output of an ASR system (docs/filters.md)
    "machine.caption_kind": "The crawl says the captions were generated automatically (`caption_kind: asr`).",
    "machine.word_timing_tags": "Word-timing tags (`<00:00:01.234>`): YouTube's auto-caption signature.",
    "machine.rolling_captions": "Rolling captions: most lines repeat the previous cue's (auto-caption layout).",
    "machine.overlapping_cues": "Many cues start seconds before the previous one ends (machine-made caption track).",
    "machine.all_caps": "All upper case: very unlikely to be typed by a person.",
    "machine.all_lowercase": "(Almost) no capital letters: very unlikely to be typed by a person.",
    "machine.no_punctuation": "No commas, question or exclamation marks over many words (ASR output).",
    "machine.no_sentence_structure": "No sentence ends over many words (flattened ASR output).",
    "machine.repetition": "Much of the text is one phrase repeated in a loop (a decoder loop).",
    # text: transcript hygiene
    "text.quarantined_source": "Its source was quarantined after an audit (`wsdata review DIR --quarantine SOURCE`).",
    "text.empty_after_cleaning": "Nothing but boilerplate, credits or sound tags is left of the transcript.",
    "text.chars_per_second_high": "More text than can be spoken in the segment's time (misaligned or partial audio).",
    "text.chars_per_second_low": "Too little text for the segment's time (partial transcript).",
    "text.too_many_tokens": "The target does not fit Whisper's 448-token decoder context with room for a prompt.",
    # language: spoken vs written language
    "language.mismatch": (
        "Spoken and written languages differ, and the transcript is not English (no translation pair)."
    ),
    "language.low_confidence": 'The audio language detector is unsure (with `on_low_confidence = "reject"`).',
    "language.no_speech_for_lid": "No speech segment to identify the spoken language from.",
    # dedup: duplicates across the whole crawl, and overlap with evaluation sets
    "dedup.exact": "The same normalised transcript as a kept document (`duplicate_of` in the detail).",
    "dedup.near_duplicate": (
        "A near duplicate (MinHash LSH over word n-grams) of a kept document (`duplicate_of` in the detail)."
    ),
    "dedup.eval_overlap": (
        "Most of its word n-grams are in the evaluation set given with `--exclude` (decontamination)."
    ),
    # segment: cutting 30 s windows and checking each one against the audio
    "segment.cue_too_long": "A single cue lasts more than 30 s and cannot fit one segment.",
    "segment.bad_timing": "A cue whose timing line was unparsable (the rest of the document was kept).",
    "segment.cues_past_end": "The segment's cues run past the end of the audio.",
    "segment.cue_without_speech": "The cue's audio holds no speech (credits or boilerplate over silence).",
    "segment.low_speech_ratio": "The segment has text but almost no speech (misaligned transcript).",
    "segment.speech_in_gap": "A 30 s stretch without cues where voice activity was heard (untranscribed speech).",
    "segment.no_speech_subsampled": "A no-speech window left out by the 1-in-N sub-sampling.",
    "segment.document_rejected": "A segment of a document rejected as a whole (the document's row gives the reason).",
    # agree: the caption against a Whisper model's transcript (`--asr`)
    "agree.segment_wer": (
        "The segment's caption differs from the model's transcript by more than `agree.segment_max_wer`"
        " (WER after Whisper's normalisation; CER for unspaced scripts)."
    ),
    "agree.misaligned": (
        "The captions are off the audio by more than `agree.max_shift_ms`, or by an offset that changes"
        " along the file (a drift): their timing cannot be repaired by one shift."
    ),
    "agree.document_wer": (
        "The document's checked segments together differ from the model's transcripts by more than"
        " `agree.document_max_wer` (a caption for other audio, a summary, or a partial transcript)."
    ),
}
# Any stage: a defect caught by the stage base, reported as a reject instead of crashing the build.
REASONS.update(
    {f"{s}.internal_error": f"An unexpected error in the {s} stage (a bug: please report the detail)." for s in STAGES}
)


def check_reason(reason: str) -> str:
    """Return `reason` if it is a known code, else raise (a typo must not reach a shard)."""
    if reason not in REASONS:
        raise ValueError(f"unknown reject reason {reason!r}; add it to wsdata.reasons.REASONS")
    return reason


def markdown() -> str:
    lines = ["# Reason codes", "", "Generated from `wsdata/reasons.py`.", ""]
    for stage in STAGES:
        codes = [(r, d) for r, d in REASONS.items() if r.startswith(stage + ".")]
        if not codes:
            continue
        lines += [f"## `{stage}`", "", "| reason | meaning |", "|---|---|"]
        lines += [f"| `{r}` | {d} |" for r, d in codes]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
