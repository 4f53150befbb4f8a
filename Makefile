# Two commands do everything: `make up` (run the product) and `make test` (the whole suite).
# Each sets up what it needs on a fresh machine: the venv, Neo4j (unless NEO4J_URI is set),
# Redis (unless REDIS_URL is set) and, for the browser tests, Debian's chromium.
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# `make test` gets its own Neo4j, Redis database, SQLite file and PostgreSQL cluster, so it never
# touches `make up` data. It runs what PYTEST_ARGS selects (default: everything) on SQLite, then the
# integration tests among them again on PostgreSQL: bin/postgres-local's cluster on TEST_POSTGRES_PORT,
# or the server TEST_POSTGRES_URL names (its role must be allowed to create the test_ database).
# There pytest's exit status 5 (nothing selected) means PYTEST_ARGS chose no integration test.
TEST_NEO4J_PORT ?= 7688
TEST_REDIS_DB ?= 15
TEST_POSTGRES_PORT ?= 5434
# `make bench BENCH_DATABASE=postgres` runs the benchmarks on PostgreSQL (its own cluster) instead of SQLite.
BENCH_DATABASE ?= sqlite
BENCH_POSTGRES_PORT ?= 5441

.PHONY: up down test bench lint venv venv-dev services services-test stop-services migrate clean

# Runtime packages for `make up`; test, lint and bench tools on top for `make test` and `make bench`.
venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

venv-dev: $(VENV)/.installed-dev
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

lint: venv-dev
	$(VENV)/bin/ruff check .

services: venv
	@mkdir -p var/run var/log
	if [ -z "$${NEO4J_URI:-}" ]; then bin/neo4j-local start && bin/neo4j-local wait; else echo "Neo4j: using $$NEO4J_URI"; fi
	if [ -z "$${REDIS_URL:-}" ]; then bin/redis-local start; else echo "Redis: using $$REDIS_URL"; fi

migrate: services
	$(PY) manage.py migrate --noinput
	$(PY) manage.py graph_migrate
	$(PY) manage.py collectstatic --noinput -v0

up: migrate
	@$(PY) manage.py seed_demo
	echo
	echo "Advisor Twin: http://127.0.0.1:$(PORT)/   (health: http://127.0.0.1:$(PORT)/healthz)"
	echo "Stop with Ctrl-C here, or 'make down' from another terminal."
	echo $$$$ > var/run/up.pid
	exec env WEB_PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

down:
	if [ -f var/run/up.pid ]; then kill $$(cat var/run/up.pid) 2>/dev/null || true; rm -f var/run/up.pid; fi
	bin/neo4j-local stop || true
	bin/redis-local stop || true

services-test: venv-dev
	@mkdir -p var/run var/log
	bin/ensure-chromium
	if [ -z "$${NEO4J_URI:-}" ]; then \
	  NEO4J_LOCAL_PORT=$(TEST_NEO4J_PORT) NEO4J_LOCAL_NAME=neo4j-test bin/neo4j-local start && \
	  NEO4J_LOCAL_PORT=$(TEST_NEO4J_PORT) NEO4J_LOCAL_NAME=neo4j-test bin/neo4j-local wait; fi
	if [ -z "$${REDIS_URL:-}" ]; then bin/redis-local start; fi
	if [ -z "$${TEST_POSTGRES_URL:-}" ]; then \
	  POSTGRES_LOCAL_PORT=$(TEST_POSTGRES_PORT) POSTGRES_LOCAL_NAME=postgres-test POSTGRES_LOCAL_FAST=yes \
	  bin/postgres-local start >/dev/null; fi

test: lint services-test
	export NEO4J_URI="$${NEO4J_URI:-bolt://127.0.0.1:$(TEST_NEO4J_PORT)}"
	export NEO4J_LOCAL_PORT=$(TEST_NEO4J_PORT) NEO4J_LOCAL_NAME=neo4j-test
	export REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/$(TEST_REDIS_DB)}"
	postgres_url="$${TEST_POSTGRES_URL:-$$(POSTGRES_LOCAL_PORT=$(TEST_POSTGRES_PORT) POSTGRES_LOCAL_NAME=postgres-test bin/postgres-local url)}"
	export DATABASE_URL="sqlite:///$(CURDIR)/var/db.sqlite3"
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) -m pytest $(PYTEST_ARGS)
	echo "--- the integration tests again, on PostgreSQL ---"
	DATABASE_URL="$$postgres_url" PYTEST_ONLY_UNDER=tests/integration $(PY) -m pytest $(PYTEST_ARGS) || [ $$? -eq 5 ]

# The benchmarks fill and empty a Neo4j of their own (port 7689), never the one `make up` or `make test` use,
# and a database of their own: var/bench-db.sqlite3, or with BENCH_DATABASE=postgres the advisor_bench
# database of bin/postgres-local's `postgres-bench` cluster on BENCH_POSTGRES_PORT.
bench: venv-dev
	@mkdir -p var/run var/log
	if [ "$(BENCH_DATABASE)" = postgres ]; then \
	  POSTGRES_LOCAL_PORT=$(BENCH_POSTGRES_PORT) POSTGRES_LOCAL_NAME=postgres-bench POSTGRES_LOCAL_DB=advisor_bench \
	  bin/postgres-local start >/dev/null; \
	  export DATABASE_URL="$$(POSTGRES_LOCAL_PORT=$(BENCH_POSTGRES_PORT) POSTGRES_LOCAL_NAME=postgres-bench \
	    POSTGRES_LOCAL_DB=advisor_bench bin/postgres-local url)"; fi
	if [ -z "$${REDIS_URL:-}" ]; then bin/redis-local start; fi
	export NEO4J_LOCAL_PORT=7689 NEO4J_LOCAL_NAME=neo4j-bench NEO4J_HEAP=4g NEO4J_PAGECACHE=6g
	bin/neo4j-local start && bin/neo4j-local wait
	export NEO4J_URI=bolt://127.0.0.1:7689
	export REDIS_URL="$${REDIS_URL:-redis://127.0.0.1:6379/14}"
	export DATABASE_URL="$${DATABASE_URL:-sqlite:///$(CURDIR)/var/bench-db.sqlite3}"
	$(PY) -m tests.bench.run $(BENCH_ARGS)

clean: down
	bin/postgres-local stop || true
	POSTGRES_LOCAL_PORT=$(BENCH_POSTGRES_PORT) POSTGRES_LOCAL_NAME=postgres-bench bin/postgres-local stop || true
	POSTGRES_LOCAL_PORT=$(TEST_POSTGRES_PORT) POSTGRES_LOCAL_NAME=postgres-test bin/postgres-local stop || true
	rm -rf var test-output
