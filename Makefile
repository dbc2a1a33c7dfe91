# Headwater developer tasks (GNU make). `make run` starts Airflow with the demo sources,
# `make test` runs the test suite. Everything is installed into ./.venv from the lock files.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The interpreter the venv is made from: the machine's Python 3.11 (uv may not download one here).
PYTHON ?= $(shell python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
VENV := .venv
VPY := $(VENV)/bin/python
# uv from PATH, otherwise the one `make install` puts into $(PYTHON)'s site-packages.
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
export UV_PYTHON_DOWNLOADS := never

INSTALL_STAMP := $(VENV)/.headwater-install.stamp
# Present once `make install-dev` ran: from then on every sync keeps the dev tools too.
DEV_MARK := $(VENV)/.headwater-dev
SOURCES_DIR ?= include/sources
PYTEST_ARGS ?=

.PHONY: help install install-dev lock run test lint bench clean clean-state uv venv

help:
	@echo "make run          Airflow with the demo sources at http://127.0.0.1:$${HEADWATER_PORT:-8080}"
	@echo "make test         install dev tools, start local services, run pytest (PYTEST_ARGS=...)"
	@echo "make install      create .venv from requirements.txt (+ editable headwater)"
	@echo "make install-dev  install + requirements-dev.txt"
	@echo "make lock         re-pin requirements.txt and requirements-dev.txt"
	@echo "make lint         headwater lint on $(SOURCES_DIR), headwater audience lint, ruff"
	@echo "make bench        run every bench/*.py"
	@echo "make clean        remove .venv and caches (keeps local state)"
	@echo "make clean-state  remove the local Airflow home (.airflow/) and Headwater home (.headwater/)"

uv:
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "installing uv with $(PYTHON) -m pip"; \
		$(PYTHON) -m pip install --quiet uv; }

$(VPY): | uv
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { \
		echo "Headwater's lock is for Python 3.11; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	$(UV) venv --python "$(PYTHON)" $(VENV)

venv: $(VPY)

# `uv pip sync` installs exactly the lock (no re-resolution): mysqlclient stays out, see overrides.txt.
# A sync also removes what the files do not list, so a dev venv (DEV_MARK) is synced with both files.
$(INSTALL_STAMP): requirements.txt requirements-dev.txt pyproject.toml | $(VPY)
	$(UV) pip sync --python $(VPY) requirements.txt $$([ -f $(DEV_MARK) ] && echo requirements-dev.txt || true)
	$(UV) pip install --python $(VPY) --no-deps -e .
	touch $@

install: uv $(INSTALL_STAMP)

install-dev: uv | $(VPY)
	@[ -f $(DEV_MARK) ] || { touch $(DEV_MARK); rm -f $(INSTALL_STAMP); }
	@$(MAKE) --no-print-directory install

lock: uv
	$(UV) pip compile requirements.in --override overrides.txt --python-version 3.11 -o requirements.txt
	@# requirements-dev.in itself starts with `-c requirements.txt`: dev pins never move the runtime ones.
	$(UV) pip compile requirements-dev.in --python-version 3.11 -o requirements-dev.txt

# scripts/run-airflow.sh (exec'd: it replaces the recipe's shell) starts `airflow standalone` and turns
# Ctrl-C / SIGTERM into one bounded stop of every component; see the comment at its top. GNU make
# passes a SIGTERM it gets on to the recipe, so `kill <pid of make>` stops everything too.
run: install
	exec scripts/run-airflow.sh

test: install-dev
	scripts/ensure-services.sh
	$(VPY) -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/headwater lint $(wildcard $(SOURCES_DIR)/*.yaml)
	$(VENV)/bin/headwater audience lint
	$(VENV)/bin/ruff check plugins tests dags bench

bench: install
	@shopt -s nullglob; scripts=(bench/*.py); \
	if [ $${#scripts[@]} -eq 0 ]; then echo "bench/ has no scripts"; exit 0; fi; \
	for s in "$${scripts[@]}"; do echo "== $$s"; $(VPY) "$$s"; done

# Build products only; the local Airflow and Headwater state survive (see clean-state).
clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache bench/out
	find . -path ./.git -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -path ./.git -prune -o -name '*.egg-info' -type d -prune -exec rm -rf {} +

# The local Airflow metadata DB, logs and config (.airflow/) and Headwater's lake and store (.headwater/).
clean-state:
	rm -rf .airflow .headwater
