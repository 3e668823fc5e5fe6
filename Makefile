# The two newcomer commands: `make demo` (set up, then run the main job on the embedded default data)
# and `make test` (set up, then run the tests). Setup installs exactly the locked set (uv.lock) into .venv,
# compiled to bytecode (uv's --compile-bytecode: a first run, or one where .pyc files cannot be written,
# starts twice as fast; benchmarks/startup_and_build.py measures it).
#
# `make lock` re-resolves uv.lock after you edit the dependencies in pyproject.toml (keeping every other pin);
# `make upgrade` moves every pin to the newest release pyproject.toml allows. Both rewrite the hashed
# requirements-lock.txt for pip users. Commit a refreshed lock only after `make test` passes on it.
PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
UV := $(PYTHON) -m uv
STAMP := $(VENV)/.dybench-installed
EXTRAS := --extra all --extra dev
# requirements-lock.txt, as `make lock` writes it and `check-lock` expects it (stdout)
REQUIREMENTS = { echo "\# Generated from uv.lock by 'make lock': do not edit. For pip users:"; \
	echo "\#   pip install --no-deps -r requirements-lock.txt && pip install --no-deps -e ."; \
	$(UV) export --frozen --all-extras --no-emit-project --no-header --quiet; }
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup demo test lint check-lock lock upgrade uv

setup: $(STAMP)

uv:
	@$(UV) --version 2>/dev/null | grep -q "^uv $(UV_VERSION) " || \
		$(PYTHON) -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

check-lock: uv
	@$(UV) lock --check --quiet || { \
		echo "uv.lock does not match pyproject.toml. Run 'make lock', then 'make test', and commit both." >&2; \
		exit 1; }
	@$(REQUIREMENTS) 2>/dev/null | cmp -s - requirements-lock.txt || { \
		echo "requirements-lock.txt does not match uv.lock. Run 'make lock' and commit it." >&2; \
		exit 1; }

$(STAMP): pyproject.toml uv.lock
	@$(MAKE) --no-print-directory check-lock
	$(UV) sync --frozen --quiet --compile-bytecode --python $(PYTHON) $(EXTRAS)
	bash .ci/install-system-deps.sh
	touch $@

demo: $(STAMP)
	$(BIN)/dybench demo

lint: $(STAMP)
	$(BIN)/ruff check dybench tests benchmarks tasks leaderboard
	$(BIN)/ruff format --check dybench tests benchmarks tasks leaderboard
	$(BIN)/mypy

test: check-lock lint
	$(BIN)/python -m pytest -m "not slow" -p no:cacheprovider

lock: uv
	$(UV) lock
	@$(REQUIREMENTS) > requirements-lock.txt.tmp && mv requirements-lock.txt.tmp requirements-lock.txt

upgrade: uv
	$(UV) lock --upgrade
	@$(REQUIREMENTS) > requirements-lock.txt.tmp && mv requirements-lock.txt.tmp requirements-lock.txt
