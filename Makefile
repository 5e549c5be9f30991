# pulumi-imburse developer commands. Everything runs from a project-local virtualenv and a project-local
# Pulumi CLI (.tools/bin, see scripts/pulumi-cli.sh).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TOOLS  := $(CURDIR)/.tools/bin
# The stack tests, the demo and the benchmarks run the real Pulumi CLI: ours first on PATH.
export PATH := $(TOOLS):$(PATH)

.PHONY: test lint typecheck pytest demo bench mutate pulumi-cli clean clean-tools

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## pulumi-cli: a pinned Pulumi CLI and its Python launchers in .tools/bin (built from Pulumi's Go modules if needed)
pulumi-cli:
	@bash scripts/pulumi-cli.sh

## test: lint, type-check and run the whole test suite against the embedded emulator and the real Pulumi CLI
test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

pytest: $(STAMP) pulumi-cli
	$(VENV)/bin/pytest $(PYTEST_ARGS)

## demo: start the emulator and deploy the root stack against it with the Pulumi CLI
demo: $(STAMP) pulumi-cli
	$(PY) examples/demo.py $(DEMO_ARGS)

## bench: measure the provider through the Pulumi CLI and the provider host (benchmarks/README.md)
bench: $(STAMP) pulumi-cli
	$(PY) benchmarks/run.py $(BENCH_ARGS)

## mutate: mutation testing of the core rules against tests/unit, and the share of mutants killed (not in CI)
mutate: $(STAMP)
	bash scripts/mutate.sh

clean:
	rm -rf $(VENV) .demo .mutate .pytest_cache .mypy_cache .ruff_cache

## clean-tools: remove the project-local Pulumi CLI (make pulumi-cli builds it again)
clean-tools:
	rm -rf .tools
