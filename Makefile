# Two commands for a new machine:  `make demo` (install, train PPO on CartPole, evaluate)
# and `make test` (install, run the tests). Both install into .venv, or into the active
# virtualenv/conda env if there is one (so a CUDA build of torch already there is kept).

ifdef VIRTUAL_ENV
PY := $(VIRTUAL_ENV)/bin/python
else ifdef CONDA_PREFIX
PY := $(CONDA_PREFIX)/bin/python
else
PY := .venv/bin/python
endif
PYTHON ?= python3
STAMP := $(dir $(PY)).lab-installed
# Extra pytest arguments: make test PYTEST_ARGS="-k config"
PYTEST_ARGS ?=

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	@# torch first: keep any installed build (CUDA included); else the local CPU build if this
	@# machine has one; else the CPU wheel index on machines without an NVIDIA GPU; else PyPI.
	@if $(PY) -c "import torch" 2>/dev/null; then \
	    echo "keeping installed torch $$($(PY) -c 'import torch; print(torch.__version__)')"; \
	elif $(PY) -m pip install -q --no-index --no-deps torch==2.13.0 2>/dev/null; then \
	    $(PY) -m pip install -q torch==2.13.0 && echo "installed torch 2.13.0 from a local build (and its dependencies)"; \
	elif ! command -v nvidia-smi >/dev/null && $(PY) -m pip install -q --retries 1 --timeout 30 torch --index-url https://download.pytorch.org/whl/cpu; then \
	    echo "installed the CPU build of torch"; \
	else \
	    $(PY) -m pip install -q torch; \
	fi
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

# Each demo gets its own run folder: a finished run is never overwritten.
demo: DEMO_RUN := runs/demo-ppo-CartPole-v1-$(shell date +%Y%m%d-%H%M%S)
demo: install
	$(dir $(PY))lab train ppo CartPole-v1 --steps 100000 --seed 0 --run-dir $(DEMO_RUN)
	$(dir $(PY))lab eval $(DEMO_RUN) --episodes 10

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

# Every benchmark prints its figures and ends with one JSON line (README: Benchmarks).
bench: install
	$(PY) benchmarks/overhead.py
	$(PY) benchmarks/solve_time.py --seeds 5
	$(PY) benchmarks/sweep_scaling.py
	$(PY) benchmarks/mcts_speed.py
	$(PY) benchmarks/tournament_speed.py

clean:
	rm -rf .venv build *.egg-info .pytest_cache
