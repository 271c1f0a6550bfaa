"""Build stages. Each is small, keeps or rejects with a `stage.code` reason; `base` does the rest."""
