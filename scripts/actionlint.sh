#!/usr/bin/env bash
# `make actionlint`: lint every GitHub Actions workflow of the repository with actionlint (pinned below), built
# from its Go module into .tools/bin when it is not there yet (nothing to do when it is).
#
#   scripts/actionlint.sh [WORKFLOW...]     default: .github/workflows/*.yml and examples/*/.github/workflows/*.yml
#
# Environment: ACTIONLINT_VERSION (the pin), TOOLS_DIR (default .tools).
set -euo pipefail

ACTIONLINT_VERSION="${ACTIONLINT_VERSION:-1.7.12}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS_DIR/bin"
EXE="$BIN/actionlint"
MODULE=github.com/rhysd/actionlint

say() { printf 'actionlint: %s\n' "$*" >&2; }

have_pin() { [ -x "$EXE" ] && [ "$("$EXE" -version 2>/dev/null | head -n1)" = "$ACTIONLINT_VERSION" ]; }

if ! have_pin; then
    command -v go >/dev/null 2>&1 || { say "building actionlint needs a Go toolchain (1.24+)"; exit 1; }
    say "building actionlint v$ACTIONLINT_VERSION from $MODULE with $(go version | cut -d' ' -f3)"
    mkdir -p "$BIN"
    # .tools is shared by every checkout that links it: build under a name of our own, then rename.
    tmp="$(mktemp -d "$BIN/.actionlint.XXXXXX")"
    trap 'rm -rf "$tmp"' EXIT
    GOBIN="$tmp" GOFLAGS=-mod=mod go install -trimpath \
        -ldflags "-s -w -X $MODULE.version=$ACTIONLINT_VERSION" "$MODULE/cmd/actionlint@v$ACTIONLINT_VERSION"
    mv -f "$tmp/actionlint" "$EXE"
fi

cd "$ROOT"
if [ "$#" -eq 0 ]; then
    shopt -s nullglob
    set -- .github/workflows/*.yml .github/workflows/*.yaml examples/*/.github/workflows/*.yml \
        examples/*/.github/workflows/*.yaml
    [ "$#" -gt 0 ] || { say "no workflow files found"; exit 1; }
fi
# shellcheck and pyflakes, when installed, also check the workflows' run: scripts.
"$EXE" -no-color "$@"
say "$# workflows clean"
