"""Duplicate removal: MinHash signatures of normalised transcripts (minhash.py), a global pass that
bands them with polars and clusters with union-find (cluster.py), and eval-set decontamination
(exclude.py). The `dedup` stage (wsdata/stages/dedup.py) applies the decisions."""
