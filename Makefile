# Entry points for developers and CI. The servers are project-local processes (no Docker):
# see infra/README.md. Ports: AR_PG_PORT=15432, KAFKA_PORT=19092, KAFKA_CONTROLLER_PORT=19093.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CTL := infra/ctl.sh
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: help setup lock up down status test test-unit test-cluster demo bench lint migrate topics clean

help:
	@echo "make setup    install what is missing (apt packages, .venv, Kafka jars)"
	@echo "make lock     regenerate the hashed locks from pyproject.toml (LOCK_UPGRADE=1: newest allowed)"
	@echo "make up       start PostgreSQL and Kafka, create topics, apply migrations"
	@echo "make down     stop the servers and every project process recorded in .local/"
	@echo "make status   show whether the servers run (exit 3 when not)"
	@echo "make test     setup, up, pytest (PYTEST_ARGS=...), always down"
	@echo "make test-unit  the unit tests only (tests/unit): no servers, in seconds"
	@echo "make test-cluster  losing Kafka brokers: tests/cluster on a three-broker cluster"
	@echo "make demo     run the end-to-end demo (ends serving the web site; no terminal: checks it)"
	@echo "make bench    run the benchmarks"
	@echo "make lint     ruff check, ruff format --check, lint-imports (layering), mypy, pip-audit"
	@echo "make migrate  apply pending SQL migrations"
	@echo "make clean    stop everything and remove .local/"

setup:
	@$(CTL) setup

# After editing the dependencies in pyproject.toml: rewrites requirements-dev.lock and
# requirements.lock (docs/security.md, "Dependencies"); commit the three files together.
lock:
	@$(CTL) lock

up:
	@$(CTL) up

down:
	@$(CTL) down

status:
	@$(CTL) status

test:
	@$(CTL) test $(PYTEST_ARGS)

# Losing brokers (docs/reliability.md): three KRaft nodes (KAFKA_BROKERS=3) in
# .local/kafka-cluster, tests/cluster, always down; CI runs it after `make test`.
test-cluster:
	@$(CTL) test-cluster $(PYTEST_ARGS)

# tests/unit needs no server: only the virtualenv (ctl.sh creates or updates it).
test-unit:
	@$(CTL) test-unit $(PYTEST_ARGS)

# Commands that talk to the servers run through `ctl.sh exec`, which sets AR_DATABASE_URL and
# AR_KAFKA_BOOTSTRAP from the ports (AR_PG_PORT, KAFKA_PORT) unless they are set.
# The demo stops the servers it started unless KEEP_UP=1 (then `make down` stops them).
KEEP_UP ?= 0
demo: up
	@rc=0; $(CTL) exec $(VENV)/bin/annual-review demo $(DEMO_ARGS) || rc=$$?; \
	if [ "$(KEEP_UP)" != "1" ]; then $(CTL) down; fi; exit $$rc

bench: up
	$(CTL) exec $(PY) -m bench

# Every check runs even when one fails (infra/lint.sh); the layering contracts are in
# pyproject.toml ([tool.importlinter]).
lint: setup
	@infra/lint.sh

migrate:
	$(CTL) exec $(PY) -m services.platform.migrations apply

topics:
	$(CTL) exec $(PY) -m services.platform.kafka.admin ensure-topics

clean:
	@$(CTL) clean
