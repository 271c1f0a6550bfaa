"""Other toolkits' corpora in and out.

`wsdata import` (wsdata/interop/readers.py, staging.py): a Hugging Face dataset, a Common Voice
release, NeMo manifests or lhotse manifests become a crawl file of the contract's format, with the
audio the crawl cannot point at (bytes in a dataset, spans of longer files) written beside it, and
that crawl goes through `wsdata build` unchanged: the same stages, shards, rejects, card, resume and
engines. `wsdata export` (wsdata/interop/export.py): a build's shards as NeMo manifests, lhotse
manifests or webdataset tars, the FLAC bytes copied as they are.
"""
