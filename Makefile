# pulumi-imburse developer commands. Everything runs from a project-local virtualenv and a project-local
# Pulumi CLI (.tools/bin, see scripts/pulumi-cli.sh).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TOOLS  := $(CURDIR)/.tools/bin
# The stack tests, the demo and the benchmarks run the real Pulumi CLI: ours first on PATH.
export PATH := $(TOOLS):$(PATH)

.PHONY: test check lint typecheck pytest demo bench bench-rate-limit crash-run mutate pulumi-cli vault sdks node dist dist-plugin actionlint clean clean-tools

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

## pulumi-cli: a pinned Pulumi CLI, its launchers and language hosts in .tools/bin (built from Pulumi's Go modules if needed)
pulumi-cli:
	@bash scripts/pulumi-cli.sh

## vault: a real Vault server in .tools/bin/vault for the vault-kv2 store's tests (built from its Go module, scripts/vault.sh)
vault:
	@bash scripts/vault.sh

## sdks: generate sdk/{nodejs,go,python} from the plugin's schema with `pulumi package gen-sdk` (scripts/gen-sdks.sh)
# gen-sdk empties sdk/nodejs (its bin/ too): where the Node packages are installed, compile it again.
sdks:
	bash scripts/gen-sdks.sh
	@if [ -d node_modules ]; then $(MAKE) --no-print-directory node; fi

# Node.js: one npm project at the root (package.json, package-lock.json) whose workspace examples/typescript
# uses the generated SDK sdk/nodejs as a file: dependency. Install scripts are not run: the SDK is compiled
# here (what its postinstall does), the rest need none.
NODE_STAMP := node_modules/.installed
TS_SDK     := sdk/nodejs/bin/index.js
TS_EXAMPLE := examples/typescript/bin/index.js
$(NODE_STAMP): package.json package-lock.json examples/typescript/package.json
	npm ci --ignore-scripts --prefer-offline --no-audit --no-fund
	touch $@
$(TS_SDK): $(NODE_STAMP) $(shell find sdk/nodejs -name '*.ts' -not -path '*/node_modules/*' -not -path '*/bin/*') sdk/nodejs/tsconfig.json
	node_modules/.bin/tsc -p sdk/nodejs
	cp sdk/nodejs/package.json sdk/nodejs/bin/package.json
$(TS_EXAMPLE): $(TS_SDK) $(wildcard examples/typescript/*.ts) examples/typescript/tsconfig.json
	node_modules/.bin/tsc -p examples/typescript

## node: the Node.js packages (npm ci) and the TypeScript SDK and example compiled with tsc
node: $(TS_EXAMPLE)

## dist: every release file in dist/ (scripts/dist.sh): wheels, sdists, the plugin archive, the npm tarball, the
## Go SDK module, the policy pack, schema.json, SHA256SUMS. Rebuilt when a file it is made from changed.
DIST_STAMP   := dist/SHA256SUMS
DIST_SOURCES := $(shell find provider sdk policy -type f -not -path '*/__pycache__/*' -not -path '*/node_modules/*' \
	-not -path 'sdk/nodejs/bin/*' -not -path 'policy/venv/*' -not -name '*.egg-info' 2>/dev/null) \
	pyproject.toml README.md scripts/dist.sh scripts/plugin.spec
dist: $(DIST_STAMP)
$(DIST_STAMP): $(STAMP) $(NODE_STAMP) $(DIST_SOURCES)
	PYTHON=$(CURDIR)/$(PY) bash scripts/dist.sh

## dist-plugin: only the plugin archive, for this machine's OS and architecture (the release matrix)
dist-plugin:
	PYTHON=$(PYTHON) bash scripts/dist.sh plugin

## actionlint: lint every GitHub Actions workflow (ours and examples/gitops') with actionlint (scripts/actionlint.sh)
actionlint:
	bash scripts/actionlint.sh

## test: lint, type-check and run the whole test suite against the embedded emulator and the real Pulumi CLI
test: lint typecheck actionlint pytest

## check: the inner loop, well under a minute: lint, type-check and the unit tests (pytest -m unit)
check: lint typecheck
	$(VENV)/bin/pytest -m unit -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest-xdist: one worker per core (PYTEST_WORKERS=0 runs the tests in pytest's own process); each worker has
# its own session emulator. worksteal hands each worker a contiguous half and rebalances the tail, so a module's
# fixtures are rarely set up twice.
PYTEST_WORKERS ?= auto
pytest: $(STAMP) pulumi-cli vault node dist
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## demo: start the emulator and deploy the root stack against it with the Pulumi CLI
demo: $(STAMP) pulumi-cli
	$(PY) examples/demo.py $(DEMO_ARGS)

## bench: measure the provider through the Pulumi CLI and the provider host (benchmarks/README.md)
bench: $(STAMP) pulumi-cli
	$(PY) benchmarks/run.py $(BENCH_ARGS)

## bench-rate-limit: 100 keys through the plugin at --parallel 64 against a 20 requests/s limit, 10 runs (benchmarks/README.md)
bench-rate-limit: $(STAMP) pulumi-cli
	$(PY) benchmarks/rate_limit.py $(BENCH_ARGS)

## crash-run: 20 kill -9s (plugin, dynamic host, CLI) at random moments of a 50-key up, each then recovered as the README says
crash-run: $(STAMP) pulumi-cli
	$(PY) scripts/crash_run.py $(CRASH_ARGS)

## mutate: mutation testing of the core rules against tests/unit, and the share of mutants killed (not in CI)
mutate: $(STAMP)
	bash scripts/mutate.sh

clean:
	rm -rf $(VENV) .demo .mutate .pytest_cache .mypy_cache .ruff_cache dist build

## clean-tools: remove the project-local Pulumi CLI (make pulumi-cli builds it again)
clean-tools:
	rm -rf .tools
