# `make run` and `make test` are the README's first two commands: both create .venv/ on first use
# (idempotent: reinstalled only when pyproject.toml or the lock changes).
# The environment is pinned: requirements.lock holds the exact version of every package but torch
# (`make lock` refreshes it). torch is pinned by version only (TORCH), so each machine takes its own
# build of that version: the CPU build where pip's configuration offers it, a GPU node its CUDA build;
# a venv that already has a torch (e.g. made with `python3 -m venv --system-site-packages .venv` on a
# node with a system torch) keeps it.
# The environment's bytecode is compiled once at install (uv --compile-bytecode): where
# PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile torch, transformers and DVC from source
# in every stage process (~6 s each on 2 cores: 13-15 s instead of 7 s to import them).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
LOCK := requirements.lock
TORCH ?= torch==2.13.0
UV_VERSION := 0.13.9
# Where `make lock` finds torch's CPU build (resolving against the CUDA build would lock its nvidia-*
# packages for every machine): pip's find-links here; elsewhere e.g.
# LOCK_FLAGS='--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match'.
LOCK_FLAGS ?= $(addprefix --find-links ,$(shell python3 -m pip config get global.find-links 2>/dev/null))
PARAMS ?= params.yaml
# pytest workers (pytest-xdist): `auto` is one per core; each test module stays on one worker, so a
# module's shared study is built once, and modules start in collection order, the longest first
# (tests/conftest.py). TEST_WORKERS=0 runs the suite in this process.
TEST_WORKERS ?= auto
export PATH := $(abspath $(VENV))/bin:$(PATH)
export TOKENIZERS_PARALLELISM := true

.PHONY: install lock run test lint format

$(UV):
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q "uv==$(UV_VERSION)"

$(STAMP): pyproject.toml $(LOCK) | $(UV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q --no-deps "$(TORCH)"
	$(UV) pip install -q --compile-bytecode --python $(PY) -r $(LOCK)
	$(UV) pip install -q --python $(PY) --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# Re-resolve pyproject.toml's ranges to exact versions (review the diff, then `make install`).
lock: | $(UV)
	echo "$(TORCH)" > $(VENV)/torch-pin.txt
	$(UV) pip compile -q pyproject.toml --extra dev --extra eval --extra slurm --extra tracking --python $(PY) -c $(VENV)/torch-pin.txt \
	  --no-emit-package torch --no-header $(LOCK_FLAGS) -o $(LOCK)
	! grep -E '^(nvidia-|triton==)' $(LOCK) || { echo "make lock: $(LOCK) holds CUDA packages: torch's CPU build was not found (set LOCK_FLAGS)"; exit 2; }

run: install
	pretrainlab validate $(PARAMS)
	dvc repro
	@echo "report: reports/study.md"

test: install
	ruff check .
	ruff format --check .
	mypy pretrainlab
	python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

lint: install
	ruff check . && ruff format --check . && mypy pretrainlab

format: install
	ruff format . && ruff check --fix .
