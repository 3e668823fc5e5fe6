# The two newcomer commands: `make demo` (set up, then run the main job on the embedded default data)
# and `make test` (set up, then run the tests). Setup is a virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.dybench-installed

.PHONY: setup demo test lint

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m pip install --quiet --disable-pip-version-check "uv>=0.5"
	$(PYTHON) -m uv venv --quiet --allow-existing --python $(PYTHON) $(VENV)
	$(PYTHON) -m uv pip install --quiet --python $(BIN)/python -e ".[all,dev]"
	bash .ci/install-system-deps.sh
	touch $@

demo: $(STAMP)
	$(BIN)/dybench demo

lint: $(STAMP)
	$(BIN)/ruff check dybench tests benchmarks tasks leaderboard
	$(BIN)/ruff format --check dybench tests benchmarks tasks leaderboard

test: lint
	$(BIN)/python -m pytest -m "not slow" -p no:cacheprovider
