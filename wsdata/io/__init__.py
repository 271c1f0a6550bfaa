"""Readers and writers: crawl lines, files behind paths/URIs, transcripts, audio, Parquet."""
