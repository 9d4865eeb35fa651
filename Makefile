# Both targets work on a fresh clone with only python3 and make present.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-all demo demo-vlm docs lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev]'
	# verl without its transformers<5.11 pin (see pyproject.toml, extra "scale")
	$(BIN)/pip install -q -c constraints.txt --no-deps 'verl==0.9.1'
	touch $(STAMP)

install: $(STAMP)

# Tests run on TEST_WORKERS processes (pytest-xdist), a test file per process (its
# module fixtures, e.g. a trained checkpoint, are made once); TEST_WORKERS=0 runs them here.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile -m ''

demo: $(STAMP)
	$(BIN)/stvg run stvg/experiments/configs/quickstart.yaml

demo-vlm: $(STAMP)
	$(BIN)/stvg run stvg/experiments/configs/vlm_tiny_quickstart.yaml

# The documentation site (docs/, mkdocs.yml) into site/; tests/test_docs.py runs the same build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check stvg tests benchmarks
	$(BIN)/ruff format --check stvg tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info site
