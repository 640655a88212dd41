# Set-up and the two everyday commands. Every target builds .venv on first use.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test,benchmarks]"
	touch $@

.PHONY: demo test
demo: $(VENV)/.installed
	$(PY) benchmarks/quick_comparison.py

test: $(VENV)/.installed
	$(PY) -m pytest
