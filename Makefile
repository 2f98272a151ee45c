# Librarrarian — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# uv from PATH, else the one `make setup` installs into the user's site-packages.
UV := $(shell command -v uv 2>/dev/null || echo python3 -m uv)
# The environment `uv sync` makes (uv's own setting moves it).
VENV := $(or $(UV_PROJECT_ENVIRONMENT),.venv)
MEDIA ?= ./media
DATA_DIR ?= ./.data
PORT ?= 5000
PYTEST_ARGS ?=
# Test processes: the tests spend most of their time waiting on servers, ffmpeg and browsers, so two
# processes on two cores take about half as long; each starts its own NATS, PostgreSQL and Chromium, and a
# test file stays in one process (its fixtures with it). `make test TEST_WORKERS=0` runs them in this process.
TEST_WORKERS ?= 2
# Where test-system-ffmpeg finds the system ffmpeg it puts first on PATH (another folder: a build of your own).
SYSTEM_FFMPEG_DIR ?= /usr/bin
# The OpenID provider the sign-in tests run (Node.js, from the npm registry).
OIDC_PROVIDER := libs/testing/oidc_provider

.PHONY: help setup chromium oidc-provider podman images deploy-test run test test-kills test-system-ffmpeg lint format schema bench bench-quality bench-chunked bench-segments chaos chaos-quick load clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-19s %s\n", $$1, $$2}'

setup: ## install uv if missing, then every dependency from the lock file
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || \
		python3 -m pip install --quiet --user uv || \
		python3 -m pip install --quiet --user --break-system-packages uv
	@$(UV) sync --frozen --quiet

chromium: ## install Debian's Chromium for the browser tests, when missing and apt-get can (as root)
	@if [ "$$LIBRARRARIAN_SKIP_BROWSER" = 1 ] || [ -x "$${LIBRARRARIAN_CHROMIUM:-$$(command -v chromium)}" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing chromium for the browser tests (apt-get)"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
			echo "could not install chromium: the browser tests will say so"; \
	else \
		echo "chromium is missing: the browser tests will fail (as root: apt-get install chromium;" \
			"or set LIBRARRARIAN_SKIP_BROWSER=1 to skip them)"; \
	fi

oidc-provider: $(OIDC_PROVIDER)/node_modules/.package-lock.json ## install the OpenID provider of the sign-in tests (npm ci), when missing or its lock changed

# npm writes node_modules/.package-lock.json at every install: older than the lock file means out of date.
$(OIDC_PROVIDER)/node_modules/.package-lock.json: $(OIDC_PROVIDER)/package-lock.json $(OIDC_PROVIDER)/package.json
	cd $(OIDC_PROVIDER) && npm ci --no-audit --no-fund

podman: ## install podman, runc and debootstrap for the container tests, when missing and apt-get can (as root)
	@if command -v podman >/dev/null && command -v runc >/dev/null && command -v debootstrap >/dev/null; then :; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing podman, runc and debootstrap (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null; \
	else \
		echo "the container tests need podman, runc and debootstrap, as root (apt-get install podman runc debootstrap)"; \
		exit 1; \
	fi

images: setup podman ## build every container image with podman, on a base made from Debian's packages
	$(UV) run python deploy/test/run.py --images-only $(DEPLOY_TEST_ARGS)

deploy-test: setup podman ## the container deployment end to end: images, compose stack, scale, down (podman)
	$(UV) run python deploy/test/run.py $(DEPLOY_TEST_ARGS)

# `up` runs as make's own child, not under `uv run` (setup synced the environment already): uv passes on to its
# child the Ctrl-C or SIGTERM the whole process group got, so each stop would arrive twice.
run: setup ## start everything on this machine, on $(MEDIA) (Ctrl-C stops it)
	@mkdir -p $(MEDIA)
	exec $(VENV)/bin/librarrarian up --media $(MEDIA) --data-dir $(DATA_DIR) --port $(PORT)

test: setup chromium oidc-provider ## run the whole test suite (real NATS, PostgreSQL and ffmpeg) but the kill matrix
	$(UV) run pytest -n $(TEST_WORKERS) --dist loadfile -m "not kill_matrix" $(PYTEST_ARGS)

test-kills: setup ## kill -9 at every worst moment of a job, for every container (about 3 minutes)
	$(UV) run pytest -n $(TEST_WORKERS) --dist load -m kill_matrix $(PYTEST_ARGS)

test-system-ffmpeg: setup ## the encoder, scanner and media tests with a system ffmpeg first on PATH (Debian's)
	@if [ -x "$(SYSTEM_FFMPEG_DIR)/ffmpeg" ]; then :; \
	elif [ "$(SYSTEM_FFMPEG_DIR)" = /usr/bin ] && command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian's ffmpeg for these tests (apt-get)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null; \
	else \
		echo "no ffmpeg in $(SYSTEM_FFMPEG_DIR) (as root: apt-get install ffmpeg; or SYSTEM_FFMPEG_DIR=/path/to/bin)"; \
		exit 1; \
	fi
	@echo "first on PATH: $$("$(SYSTEM_FFMPEG_DIR)/ffmpeg" -hide_banner -version | head -n 1)"
	PATH="$(SYSTEM_FFMPEG_DIR):$$PATH" $(UV) run pytest -n $(TEST_WORKERS) --dist loadfile services/encoder/tests services/scanner/tests libs/media/tests -m "not kill_matrix" $(PYTEST_ARGS)

lint: setup ## ruff, mypy and hadolint (every Dockerfile)
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy libs/*/src src services/*/src
	$(UV) run hadolint $$(git ls-files 'Dockerfile' '*/Dockerfile' '*.Dockerfile')

format: setup ## format the code
	$(UV) run ruff check --fix .
	$(UV) run ruff format .

schema: setup ## refresh the contracts' JSON Schema snapshot, docs/bus.md and deploy/nats.conf after a reviewed change
	$(UV) run python -m librarrarian_contracts.schema

bench: setup ## run the benchmarks in bench/ (each against its baseline, in the same run)
	$(UV) run python -m bench

bench-quality: setup ## quality by target against one fixed CRF on 8 kinds of clips, and the season's reuse (~16 min)
	$(UV) run python -m bench quality

bench-chunked: setup ## one file in segments on two one-core nodes against the whole file on one (~11 min)
	$(UV) run python -m bench chunked

bench-segments: setup ## one file across two one-core nodes over the bus, one without the library, one killed (~35 min)
	$(UV) run python -m bench segments

chaos: setup ## faults at seeded random moments on the real cluster, invariants after each (ARGS="--seed N --quick")
	$(UV) run python -m bench.chaos $(ARGS)

chaos-quick: setup ## the chaos harness's quick set (a few minutes; for CI)
	$(UV) run python -m bench.chaos --quick $(ARGS)

load: setup ## 1,000 small jobs through 2 nodes, then 10,000 waiting jobs with the dashboard open (ARGS="--jobs N --waiting N")
	$(UV) run python -m bench.load $(ARGS)

clean: ## remove caches (not $(DATA_DIR): it holds your database)
	rm -rf .pytest_cache .ruff_cache .mypy_cache
