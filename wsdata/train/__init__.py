"""`wsdata train`: a Whisper trainer that reads the shards (docs/training.md).

vocab.py (the multilingual vocabulary), targets.py (the paper's multitask token format),
features.py (Whisper's log-mel frontend in torch, on the GPU), data.py (a streaming loader over
the Parquet shards), model.py (sizes and checkpoints), loop.py (the training loop, read top to
bottom), decode.py (greedy decoding and WER for evaluation and `wsdata transcribe`).
"""
