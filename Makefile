# moodstream: the two commands that do all set-up on a fresh machine are `make demo` and `make test`.
# Everything they need is installed from here: a Python venv with the project, the Debian packages
# listed in deploy/local/debian-packages*.txt (the -demo list only for demo and bench), the Kafka
# jars (Maven Central) and MinIO (Go proxy).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install system-deps demo-deps stack-up stack-down stack-status lint test test-unit demo bench clean

# musicnn 0.1.0 ships pretrained music taggers (ISC licence). Only its checkpoint files are used
# (models/musicnn.py); its own pins (numpy<1.17, TF1) break resolution, hence --no-deps.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -U pip wheel setuptools
	$(BIN)/pip install -q -e '.[dev]'
	$(BIN)/pip install -q --no-deps musicnn==0.1.0
	touch $(STAMP)

system-deps:
	@bash deploy/local/install-system-deps.sh

# Real music for the demo and the benchmarks (Debian's wesnoth-1.16-music, about 150 MB).
demo-deps:
	@bash deploy/local/install-system-deps.sh deploy/local/debian-packages-demo.txt

install: system-deps $(STAMP)

stack-up: install
	$(BIN)/moodstream stack up

stack-down:
	$(BIN)/moodstream stack down

stack-status:
	$(BIN)/moodstream stack status

# Style, formatting, the package layers and stage independence (pyproject.toml [tool.importlinter]),
# and no function in streams/ over 80 lines (.ci/check_function_length.py).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python .ci/check_function_length.py streams

# The whole suite: unit, agent, integration (real Kafka + MinIO), model and regression tests, on
# two pytest-xdist workers: one runs every test on the shared stack (in file order; its session
# fixtures live there), the other the rest (tests/conftest.py schedules them).
test: install stack-up lint
	$(BIN)/pytest -n 2

# Without the stack: unit and agent tests only (integration tests skip with a reason).
test-unit: install lint
	MOODSTREAM_TEST_NO_STACK=1 $(BIN)/pytest -n 2

# Speed and memory figures (quoted in the README); installs the evaluation-only extras.
bench: install demo-deps
	$(BIN)/pip install -q -e '.[dev,bench]'
	$(BIN)/moodstream bench features

demo: install demo-deps stack-up
	$(BIN)/moodstream demo

clean: stack-down
	rm -rf .moodstream
