# `make run` and `make test` are the README's first two commands: both create .venv/ on first use
# (idempotent: reinstalled only when pyproject.toml changes).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PARAMS ?= params.yaml
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TOKENIZERS_PARALLELISM := true

.PHONY: install run test lint format

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	# No GPU here: take PyTorch's CPU build (a plain `torch` would pull a multi-GB CUDA build).
	if ! command -v nvidia-smi >/dev/null 2>&1; then $(PY) -m pip install -q "torch==2.13.0"; fi
	$(PY) -m pip install -q -e ".[dev,eval]"
	touch $(STAMP)

install: $(STAMP)

run: install
	pretrainlab validate $(PARAMS)
	dvc repro
	@echo "report: reports/study.md"

test: install
	ruff check .
	ruff format --check .
	mypy pretrainlab
	python -m pytest -q

lint: install
	ruff check . && ruff format --check . && mypy pretrainlab

format: install
	ruff format . && ruff check --fix .
