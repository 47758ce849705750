# Two commands do all set-up on a fresh machine with Python >= 3.11 and pip:
#   make demo   -- install into .venv, run the main experiment (default CPU config)
#   make test   -- install into .venv, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint docs bench install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test,experiments]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m experiments.one_step_diffusion.main --config default --workdir runs/one_step_diffusion

test: $(STAMP)
	$(PY) -m pytest -q -n 2

test-slow: $(STAMP)
	$(PY) -m pytest -q -n 2 -m slow

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# API reference + experiment pages into docs/_build/html; any warning fails the build.
docs: $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	$(PY) -m sphinx -W --keep-going -q -b html docs docs/_build/html

# Every benchmark on the default device (CPU here; GPU where one is visible):
# benchmarks/results/<platform>/*.json, benchmarks/RESULTS.md and plots.
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) runs .pytest_cache docs/_build
