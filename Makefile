# Two commands do all set-up on a fresh machine with Python >= 3.11 and pip:
#   make demo   -- install into .venv, run the main experiment (default CPU config)
#   make test   -- install into .venv, run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow test-core lint docs bench install clean fashion-mnist molecules

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

# The core install alone (jax, optax, numpy; no flax, distrax, ott, blackjax) in its own
# virtual environment, and the tests of the modules it covers: a hidden import of an
# optional dependency fails here.
CORE_VENV ?= .venv-core
CORE_TESTS := tests/test_core_install.py tests/test_divergences.py tests/test_monte_carlo.py \
  tests/test_variational.py tests/test_categorical.py tests/test_gaussians.py \
  tests/test_cauchy_schwarz.py tests/test_preference.py tests/test_distill.py tests/test_distill_step.py \
  tests/test_diffusion.py tests/test_kernels.py tests/test_targets.py tests/test_metrics.py
test-core:
	test -x $(CORE_VENV)/bin/python || $(PYTHON) -m venv $(CORE_VENV)
	$(CORE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)/bin/python -m pip install --quiet . "pytest>=8" "pytest-xdist>=3.5" "chex>=0.1.90" "scipy>=1.12"
	FDIV_CORE_ONLY=1 $(CORE_VENV)/bin/python -m pytest -q -n 2 -p no:cacheprovider $(CORE_TESTS)
	# The README's Flax + Optax example on the core plus flax alone.
	test -x $(CORE_VENV)-flax/bin/python || $(PYTHON) -m venv $(CORE_VENV)-flax
	$(CORE_VENV)-flax/bin/python -m pip install --quiet --upgrade pip
	$(CORE_VENV)-flax/bin/python -m pip install --quiet . "flax>=0.12.0,<0.13" "pytest>=8" "chex>=0.1.90" "scipy>=1.12"
	$(CORE_VENV)-flax/bin/python -m pytest -q -p no:cacheprovider "tests/test_readme.py::test_readme_example_runs_and_output_matches[f_gan_step]"

# Fashion-MNIST's IDX files from Debian's dataset-fashion-mnist (apt's own mirror; nothing
# from a model hub) into .data/fashion-mnist, for `experiments.one_step_diffusion --config
# fashion`; skipped where the package is installed system-wide.
FASHION := .data/fashion-mnist
fashion-mnist:
	@if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || \
	  [ -e $(FASHION)/train-images-idx3-ubyte.gz ]; then echo "Fashion-MNIST present"; else \
	  mkdir -p .data/deb && cd .data/deb && \
	  (apt-get download dataset-fashion-mnist || (apt-get update -qq && apt-get download dataset-fashion-mnist)) && \
	  dpkg-deb -x dataset-fashion-mnist_*.deb root && cd ../.. && mkdir -p $(FASHION) && \
	  cp .data/deb/root/usr/share/datasets/fashion-mnist/*-ubyte.gz $(FASHION)/ && \
	  rm -rf .data/deb && echo "Fashion-MNIST in $(FASHION)"; fi

# OpenMM (CPU / Reference platforms) and openmmtools' package data (the alanine-dipeptide
# prmtop / crd; openmmtools itself is never imported, so none of its dependencies) for
# `python -m experiments.boltzmann.alanine_data` and the MD reference.
molecules: $(STAMP)
	$(PY) -m pip install --quiet -e ".[molecules]"
	$(PY) -m pip install --quiet --no-deps "openmmtools==0.27.0"

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
	rm -rf $(VENV) $(CORE_VENV) $(CORE_VENV)-flax runs .pytest_cache docs/_build
