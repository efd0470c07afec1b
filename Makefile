# Two commands do everything: `make demo` (the main job) and `make test` (the whole suite).
# Both create or update .venv first, so a fresh machine needs only Python 3.11 or 3.12.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 3

.PHONY: demo test lab lint venv clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/course demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests lectures --nbval --nbval-sanitize-with lectures/sanitize.cfg --nbval-current-env

lab: $(STAMP)
	$(BIN)/course lab

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf course/release course/autograded course/feedback course/reports course/gradebook.db
