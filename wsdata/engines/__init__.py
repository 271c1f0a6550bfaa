"""Where a build's chunks run. An engine offers two things (wsdata/orchestrate.py uses them):

- `run(fn, chunks, on_done)`: fn(chunk, base_dir, out, cfg) for every chunk, with
  on_done(result, lines in the chunk) called on the driver as each ends;
- `links(files, bands, rows)`: dedup's bucket group-bys over the spilled MinHash keys.

`local`: processes on this machine, polars for the group-bys. `ray`: Ray Data tasks and one Ray
shuffle (`pip install 'wsdata[ray]'`). Both give the same files.
"""
