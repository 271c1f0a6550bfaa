"""`wsdata train`: a Whisper trainer that reads the shards (docs/training.md). Needs the `train`
extra (torch, transformers); the build never imports this package past `args.py` and `cli.py`.

args.py (the settings and the paper's sizes, torch-free), targets.py (the paper's multitask token
format; the vocabulary and the target length it shares with the build are in wsdata/vocab.py),
features.py (Whisper's log-mel frontend in torch, on the GPU), data.py (a streaming loader over
the Parquet shards), model.py (models and checkpoints), loop.py (the training loop, read top to
bottom), decode.py (greedy decoding and WER for evaluation and `wsdata transcribe`).
"""
