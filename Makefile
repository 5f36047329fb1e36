# Two commands a new machine needs: `make run` and `make test`. Both set everything up first.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev
STAMP_SYS := $(VENV)/.stamp-system

.PHONY: run demo test setup setup-dev system check bench-engine clean

# The main job: the orchestrator service on embedded defaults (127.0.0.1:8080, ./uqo-data,
# single-node log, software keystore, best backend). Ctrl-C or SIGTERM stops it gracefully.
run: $(STAMP_RUN)
	$(BIN)/uqo serve

# The engine alone: a 1,000,000-agent register ticking with live observations.
demo: $(STAMP_RUN)
	$(BIN)/uqo demo

test: $(STAMP_DEV) $(STAMP_SYS)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: $(STAMP_DEV)
	$(BIN)/ruff check src engine kernels control security bench tests
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

setup: $(STAMP_RUN)
setup-dev: $(STAMP_DEV)
system: $(STAMP_SYS)

$(VENV)/bin/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel

# `uqo warmup` compiles the engine kernels into their on-disk cache now, so that the first
# `uqo serve` becomes ready in seconds instead of waiting for a cold compile.
$(STAMP_RUN): pyproject.toml setup.py | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	$(BIN)/uqo warmup
	touch $@

$(STAMP_DEV): pyproject.toml setup.py | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/uqo warmup
	touch $@ $(STAMP_RUN)

# System packages (SoftHSM2 for the PKCS#11 tests); see scripts/setup-system.sh.
$(STAMP_SYS): scripts/setup-system.sh | $(VENV)/bin/python
	bash scripts/setup-system.sh
	touch $@

bench-engine: $(STAMP_RUN)
	$(BIN)/uqo bench engine --agents 1000000 --ticks 20

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
