"""Model-checked transcripts: a Whisper model's transcript of each kept segment against its caption.

`wer` normalises both texts as Whisper's evaluation does and counts word (or character) errors;
the `agree` stage (wsdata/stages/agree.py) batches segments across documents through the model
(wsdata/lid/audio.py, the same loaded model as `--audio-lid`) and rejects by threshold.
"""
