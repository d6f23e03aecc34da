# newswire: two commands for a newcomer, `make demo` and `make test`; each sets up what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed-stamp

.PHONY: demo test setup venv jars kafka kafka-stop kafka-status lint format schemas bench bench-quick bench-deps chaos clean

## demo: venv, deps, Kafka jars, a broker, all three workers, the sample articles → alerts
demo: setup
	$(BIN)/newswire demo

## test: static checks + unit, integration and end-to-end tests on the real broker
test: setup
	bash scripts/run-tests

setup: venv jars

$(INSTALLED): pyproject.toml constraints.txt
	bash scripts/system-deps
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $@

venv: $(INSTALLED)

## jars: resolve the Apache Kafka broker with Maven into .cache/kafka (once)
jars:
	deploy/local/kafka fetch

## kafka / kafka-stop / kafka-status: a long-lived local broker for development
kafka: setup
	deploy/local/kafka start
kafka-stop:
	deploy/local/kafka stop
kafka-status:
	deploy/local/kafka status

lint: venv
	$(BIN)/ruff check services schemas tests bench
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format services schemas tests bench
	$(BIN)/ruff check --fix services schemas tests bench

schemas: venv
	$(BIN)/newswire schemas export

## bench: every benchmark, each printing its figures and writing bench/results/*.json;
## bench/run.py last: ceiling, stages, peers, pipeline and scaling in one run (issue 9)
PEERS_VENV := .venv-peers
bench: setup bench-deps
	$(BIN)/python -m bench.ingest
	$(BIN)/python -m bench.enrich
	$(BIN)/python -m bench.enrich_quality
	$(BIN)/python -m bench.multilingual
	$(BIN)/python -m bench.percolate
	$(BIN)/python -m bench.guarantees
	$(BIN)/python -m bench.run

## bench-quick: bench/run.py --quick (small N, one subscription set, one worker per stage)
bench-quick: setup bench-deps
	$(BIN)/python -m bench.run --quick

## bench-deps: the bench extra in .venv, and .venv-peers for the Quix Streams/FastStream peers
bench-deps: $(VENV)/.bench-stamp $(PEERS_VENV)/.installed-stamp
$(VENV)/.bench-stamp: $(INSTALLED) pyproject.toml constraints.txt
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $@
$(PEERS_VENV)/.installed-stamp: pyproject.toml bench/constraints-peers.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install -q --upgrade pip
	$(PEERS_VENV)/bin/pip install -q -c bench/constraints-peers.txt -e '.[bench-peers]'
	touch $@

## chaos: six fault scenarios on a private broker, exact counts, a table and
## bench/results/chaos-<guarantee>.json; e.g. make chaos CHAOS_ARGS="--n 20000 --guarantee at_least_once"
CHAOS_ARGS ?= --n 100000 --guarantee exactly_once --scenarios all
chaos: setup
	$(BIN)/python -m tests.chaos $(CHAOS_ARGS)

clean:
	-deploy/local/kafka stop
	rm -rf $(VENV) $(PEERS_VENV) .cache/kafka-run .cache/demo
