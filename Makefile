# Librarrarian — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else the one `make setup` installs into the user's site-packages.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
MEDIA ?= ./media
DATA_DIR ?= ./.data
PORT ?= 5000
PYTEST_ARGS ?=

.PHONY: help setup run test lint format schema bench clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## install uv if missing, then every dependency from the lock file
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet --user uv || \
		python3 -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet

run: setup ## start everything on this machine, on $(MEDIA) (Ctrl-C stops it)
	@mkdir -p $(MEDIA)
	$(UV) run librarrarian up --media $(MEDIA) --data-dir $(DATA_DIR) --port $(PORT)

test: setup ## run the whole test suite (real NATS, PostgreSQL and ffmpeg)
	$(UV) run pytest $(PYTEST_ARGS)

lint: setup ## ruff and mypy
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/*/src src services/*/src

format: setup ## format the code
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

schema: setup ## refresh the contracts' JSON Schema snapshot after a reviewed change
	$(UV) run python -m librarrarian_contracts.schema

bench: setup ## run the benchmarks in bench/ (each against its baseline, in the same run)
	$(UV) run python -m bench

clean: ## remove caches (not $(DATA_DIR): it holds your database)
	rm -rf .pytest_cache .ruff_cache .mypy_cache
