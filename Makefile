# netreach: `make help` lists the targets. `make run` and `make test` bootstrap themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_DIR ?= .bench
SIZES ?= S M L

.DEFAULT_GOAL := help
.PHONY: help install run test check lint typecheck format bench bench-ipblocks bench-api bench-peer bench-phases bench-capture bench-ui screenshots bench-review bench-cnp bench-nodes clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q service > /dev/null  # bytecode, as an installed package has
	touch $(STAMP)

install: $(STAMP) ## create .venv and install netreach with its dev tools

run: $(STAMP) ## serve the API on 127.0.0.1:8000 (SQLite) with a demo cluster loaded
	$(BIN)/netreach demo

lint: $(STAMP) ## ruff (lint + format check) and the import-linter contracts
	$(BIN)/ruff check service tests bench migrations
	$(BIN)/ruff format --check service tests bench migrations
	$(BIN)/lint-imports

typecheck: $(STAMP) ## mypy --strict on service/
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix service tests bench migrations
	$(BIN)/ruff format service tests bench migrations

test: lint typecheck ## everything CI runs: lint, types, contracts, then the test suite (SQLite and PostgreSQL)
	@$(BIN)/python -m tests.ui.browser
	$(BIN)/pytest

check: test ## alias of test: exactly what CI runs

bench: $(STAMP) ## engine, whole CLI processes, stored diffs and what-if on S, M, L (SIZES="S M" to limit)
	$(BIN)/python -m bench.engine --sizes $(SIZES) --data $(BENCH_DIR)
	$(BIN)/python -m bench.process --sizes $(SIZES) --data $(BENCH_DIR)
	$(BIN)/python -m bench.stored --sizes $(SIZES) --data $(BENCH_DIR)

bench-cnp: $(STAMP) ## M with and without 200 ClusterNetworkPolicies: compile, map, queries (goal: within 1.5x)
	$(BIN)/python -m bench.cluster_policies --size M --count 200 --data $(BENCH_DIR)

bench-ipblocks: $(STAMP) ## one NetworkPolicy of 1k, 4k, 16k, 100k ipBlocks (IPv4, IPv6, except): compile, map, query
	$(BIN)/python -m bench.ipblocks

bench-api: $(STAMP) ## service over HTTP: upload of L (plain, gzip), of M, maps, storage, and 200 queries/s for 60 s (1, 2 workers; SQLite, PostgreSQL)
	$(BIN)/python -m bench.service --data $(BENCH_DIR)

bench-peer: $(STAMP) ## netreach against network-config-analyzer 2.1.0 (own virtualenv) on S as YAML
	$(BIN)/python -m bench.peer --data $(BENCH_DIR)

bench-phases: $(STAMP) ## CPU time of each stage of bench-peer's netreach process (start-up, imports, read, ...)
	$(BIN)/python -m bench.phases --data $(BENCH_DIR)

bench-capture: $(STAMP) ## netreach capture of generated clusters from the fake API server (SIZES="S M")
	$(BIN)/python -m bench.capture --sizes $(filter-out L,$(SIZES)) --data $(BENCH_DIR)
bench-review: $(STAMP) ## the review-bot path on S and M: diff, causes, PR comment, JSON report
	$(BIN)/python -m bench.review --sizes S M --data $(BENCH_DIR)

bench-nodes: $(STAMP) ## compile and workload map on M without and with Nodes and nodes peers
	$(BIN)/python -m bench.nodes --size M --data $(BENCH_DIR)

bench-ui: $(STAMP) ## the web view on M in Chromium: first matrix paint, drill-down, graph, diff view
	$(BIN)/python -m bench.ui --data $(BENCH_DIR)

screenshots: $(STAMP) ## PNGs of every page of the web view, from the demo, into docs/screenshots (needs chromium)
	$(BIN)/python -m tests.ui.screenshots --out docs/screenshots

clean: ## remove the virtualenv, caches and benchmark data
	rm -rf $(VENV) $(BENCH_DIR) .pytest_cache .mypy_cache .ruff_cache .hypothesis
