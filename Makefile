# Two entry points, each doing its own setup in .venv:
#   make demo   grade a bundled sample submission and show its report
#   make test   run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO   ?= submissions/bug_adam_no_bias_correction

.PHONY: demo test setup
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: setup
	$(BIN)/grader grade $(DEMO) -o out/demo
	@echo; cat out/demo/report.md

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)
