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
export PYTHONDONTWRITEBYTECODE := 1
# nbgrader runs alembic (its gradebook migrations) as a command: the venv's bin must be on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: course system venv release golden test bench clean

ASSIGNMENTS = $(notdir $(patsubst %/,%,$(dir $(wildcard source/*/*.ipynb))))

course: system venv release book grade-demo dashboards
	@echo "course: environment ready in $(VENV); release/ generated for: $(ASSIGNMENTS)"

# Student notebooks from the nbgrader masters: solutions and hidden tests stripped.
release: venv
	mkdir -p $(STATE)
	$(VENV)/bin/nbgrader generate_assignment "*" --force --log-level=WARN

# The book (Jupyter Book 1) in _build/html, warnings as errors: release/ regenerated, chapter pages
# prepared from it with the figures drawn by the reference solutions (tools/book/), a local MathJax
# (pinned in package-lock.json, installed with npm under .state/). Incremental: rerun after any edit.
.PHONY: book
book: venv release
	$(PY) -m tools.book build

# The student repository (tools/publish): release/, the packages graded cells import, the student pins,
# binder/, a README and a license, in _build/student-repo with one new commit per publish (push it to
# repository.url of _config.yml). SOLUTIONS=ch1_gradient_descent[,...] adds those reference solutions.
SOLUTIONS ?=
.PHONY: publish
publish: venv release
	$(PY) -m tools.publish $(if $(SOLUTIONS),--solutions $(SOLUTIONS))

# The bundled demo class (autograder/demo), graded in the sandbox: builds .state/demo-course/, grades
# every submission with a progress bar and prints the summary table. A rerun grades only what changed.
.PHONY: grade-demo
grade-demo: venv student-env
	$(PY) -m autograder.cli demo --dest $(STATE)/demo-course

# The instructor's class dashboard of the demo class (autograder/dashboard), rebuilt from its gradebook:
# .state/demo-course/dashboard/index.html, one self-contained page (never part of the book or release).
# GRADED_COURSE picks another course folder: make dashboards GRADED_COURSE=grading/fall
GRADED_COURSE ?= $(STATE)/demo-course
.PHONY: dashboards formgrader
dashboards: venv $(if $(filter $(STATE)/demo-course,$(GRADED_COURSE)),grade-demo)
	$(PY) -m autograder.dashboard --course $(GRADED_COURSE)

# nbgrader's formgrader for that course on 127.0.0.1 with a fresh token: prints the URL, Ctrl-C stops it.
formgrader: venv
	$(PY) -m autograder.formgrader --course $(GRADED_COURSE)

# Re-record the golden expectations from torch.optim (instructor only; needs the dev environment).
golden: venv
	$(PY) -m tools.golden

venv: $(VENV)/.installed

# Debian packages (bubblewrap for the grading sandbox, Chromium for the browser tests, PostgreSQL
# for the gradebook tests); installs only what is missing, so it is quick once done.
system:
	bash .ci/system-packages

$(VENV)/.installed: requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --require-virtualenv -r requirements/dev.txt
	$(PY) -m pip install -qq --require-virtualenv --no-deps --no-build-isolation -e .
	$(PY) -m pip check
	touch $@

# The grading sandbox's Python environment: only what students may import (requirements/student.txt).
# The sandbox (autograder/sandbox) mounts it read-only; nothing from the dev environment reaches it.
STUDENT_VENV := .venv-student
.PHONY: student-env
student-env: $(STUDENT_VENV)/.installed

$(STUDENT_VENV)/.installed: requirements/student.txt
	rm -rf $(STUDENT_VENV)
	$(PYTHON) -m venv $(STUDENT_VENV)
	$(STUDENT_VENV)/bin/python -m pip install -qq --require-virtualenv -r requirements/student.txt
	$(STUDENT_VENV)/bin/python -m pip check
	touch $@

test: system venv student-env
	$(PY) -m pytest -n 2 --dist loadfile

bench: venv
	$(PY) -m bench

# Keeps _build/student-repo: its history is what students' clones follow.
clean:
	rm -rf $(VENV) $(STUDENT_VENV) $(STATE) .pytest_cache bench/results.json
	if [ -d _build ]; then find _build -mindepth 1 -maxdepth 1 ! -name student-repo -exec rm -rf {} +; fi
