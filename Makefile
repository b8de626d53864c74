# Two commands set up and check everything on a fresh machine:
#   make course   # virtual environment (pinned), release, book, demo grading, dashboards
#   make test     # the whole test suite
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(CURDIR)/$(VENV)/bin/python

# Jupyter, IPython and matplotlib keep their state inside the project, never in the home directory.
STATE := $(CURDIR)/.state
export JUPYTER_CONFIG_DIR := $(STATE)/jupyter/config
export JUPYTER_DATA_DIR := $(STATE)/jupyter/data
export JUPYTER_RUNTIME_DIR := $(STATE)/jupyter/runtime
export IPYTHONDIR := $(STATE)/ipython
export MPLCONFIGDIR := $(STATE)/matplotlib
export MPLBACKEND := Agg
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: course venv release golden test bench clean

ASSIGNMENTS = $(notdir $(patsubst %/,%,$(dir $(wildcard source/*/*.ipynb))))

course: venv release
	@echo "course: environment ready in $(VENV); release/ generated for: $(ASSIGNMENTS)"

# Student notebooks from the nbgrader masters: solutions and hidden tests stripped.
release: venv
	mkdir -p $(STATE)
	for assignment in $(sort $(ASSIGNMENTS)); do \
	  $(VENV)/bin/nbgrader generate_assignment "$$assignment" --force --log-level=WARN; \
	done

# Re-record the golden expectations from torch.optim (instructor only; needs the dev environment).
golden: venv
	$(PY) -m tools.golden

venv: $(VENV)/.installed

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --require-virtualenv -r requirements/dev.txt
	$(PY) -m pip install -qq --require-virtualenv --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

test: venv
	$(PY) -m pytest -n 2 --dist loadfile

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(STATE) _build .pytest_cache bench/results.json
