# mlcourse — every target creates .venv when it is missing.
#   make lab      JupyterLab on notebooks/ (learn)
#   make test     the whole test suite (verify), one worker per core
#   make release  regenerate notebooks/ from solutions/ with nbgrader
#   make grade    autograde grader/submitted/ (sandboxed, parallel on Dask) and write grader/grades.csv
#   make report   the class report: grader/report.html (offline) and grader/report.csv
#   make bench    side-by-side performance comparisons
#   make lint     ruff
#   make hub      the class's JupyterHub on this machine, as root (hub/README.md)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Where no NVIDIA GPU is found, this torch goes in first from PyTorch's CPU index,
# so the project's torch range is already met and pip pulls no multi-GB CUDA build.
# Override: make test TORCH="torch==2.5.1"   or   TORCH_CPU_INDEX= to skip that index.
TORCH           ?= torch==2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS     ?=
# nbgrader runs `alembic` from PATH when it creates a gradebook.
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: lab test test-fast release grade report bench lint clean venv system-deps hub

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@if ! $(BIN)/python -c "import torch" 2>/dev/null; then \
	  if [ "$$(uname -s)" = Linux ] && ! command -v nvidia-smi >/dev/null 2>&1; then \
	    echo "No NVIDIA GPU found: installing a CPU build of torch first ($(TORCH))"; \
	    $(BIN)/python -m pip install --retries 1 \
	      $(if $(TORCH_CPU_INDEX),--extra-index-url $(TORCH_CPU_INDEX)) "$(TORCH)"; \
	  fi; \
	fi
	$(BIN)/python -m pip install -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (mlcourse)" >/dev/null
	@touch $@

# A learner's Lab: lab/ hides nbgrader's instructor tools and keeps Validate.
lab: venv
	JUPYTER_CONFIG_PATH=$(abspath lab) $(BIN)/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

# A class: JupyterHub with nbgrader's exchange, users from hub/roster.csv (as root).
hub: venv system-deps
	bash hub/setup.sh
	cd hub && $(BIN)/jupyterhub -f jupyterhub_config.py

# bubblewrap (the grading sandbox) and PostgreSQL (the gradebook test): installed as root on
# Debian/Ubuntu, reported elsewhere.
system-deps:
	@bash .ci/system-deps

test: venv system-deps
	$(BIN)/python -m pytest -n auto $(PYTEST_ARGS)

test-fast: venv
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

release: venv
	$(BIN)/python -m grader.pipeline release

# make grade ARGS="--workers 4 --memory 4GiB"   or   ARGS="--scheduler tcp://HOST:8786"
grade: venv system-deps
	$(BIN)/python -m grader.pipeline grade $(ARGS)

report: venv
	$(BIN)/python -m grader.pipeline report $(ARGS)

bench: venv system-deps
	$(BIN)/python -m benchmarks
	$(BIN)/python -m benchmarks.notebooks
	$(BIN)/python -m benchmarks.seeds
	$(BIN)/python -m benchmarks.grading
	$(BIN)/python -m benchmarks.scale

lint: venv
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
