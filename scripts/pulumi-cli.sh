#!/usr/bin/env bash
# `make pulumi-cli`: put a pinned Pulumi CLI, the launcher it needs to run Python dynamic providers, and
# the Pulumi YAML language host into .tools/bin/. Does nothing when they are already there.
#
#   1. .tools/bin/pulumi already at the pinned version          -> nothing to do
#   2. a `pulumi` on PATH at or above the pin                    -> link it (and its plugins) into .tools/bin
#   3. a `go` toolchain                                          -> build the CLI from Pulumi's Go modules
#   4. otherwise                                                 -> stop, saying how to install Pulumi
# The YAML language host likewise: already in .tools/bin at its pin, beside a linked CLI, or built with go.
#
# Environment: PULUMI_VERSION (the pin, default below), PULUMI_YAML_VERSION (the YAML host's pin),
# TOOLS_DIR (default .tools).
set -euo pipefail

PULUMI_VERSION="${PULUMI_VERSION:-3.274.1}"
PULUMI_YAML_VERSION="${PULUMI_YAML_VERSION:-1.25.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS_DIR/bin"
# The launcher the engine looks for on PATH to run Python dynamic providers (`python -m pulumi.dynamic`),
# shipped by Pulumi beside the CLI and in the sdk/v3 Go module (sdk/python/dist/).
#
# The language host of Pulumi YAML programs, a Go module of its own (github.com/pulumi/pulumi-yaml).
#
# Not here: the other language hosts. The Go module proxy does not serve pulumi-language-python (nor the
# nodejs and go hosts: nested modules with no version tags), so Python and TypeScript programs run as
# Automation API inline programs, which serve themselves to the CLI (`pulumi up --client`), and the policy
# pack runs as an executable analyzer (policy/analyzer). A Pulumi install from pulumi.com has the language
# hosts; both ways work there.
PROVIDER_LAUNCHER=pulumi-resource-pulumi-python
YAML_HOST=pulumi-language-yaml
YAML_MODULE=github.com/pulumi/pulumi-yaml

say() { printf 'pulumi-cli: %s\n' "$*" >&2; }

# version_ge A B: whether version A >= version B (both x.y.z, an optional leading v).
version_ge() {
    [ "$(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -n1)" = "${2#v}" ]
}

installed_version() { "$1" version 2>/dev/null | head -n1 | tr -d '[:space:]'; }

# yaml_host_ok: the YAML host is in $BIN, at its pin when we built it (a host linked from beside a user's
# Pulumi install is taken as it is). The host has no version flag; `go version -m` reads its build info.
yaml_host_ok() {
    [ -x "$BIN/$YAML_HOST" ] || return 1
    [ -L "$BIN/$YAML_HOST" ] && return 0
    command -v go >/dev/null 2>&1 || return 0
    go version -m "$BIN/$YAML_HOST" 2>/dev/null |
        grep -Eq "^[[:space:]]+mod[[:space:]]+$YAML_MODULE[[:space:]]+v$PULUMI_YAML_VERSION([[:space:]]|\$)"
}

cli_ok() {
    [ -x "$BIN/pulumi" ] && [ -x "$BIN/$PROVIDER_LAUNCHER" ] &&
        [ "$(installed_version "$BIN/pulumi")" = "v$PULUMI_VERSION" ]
}

complete() { cli_ok && yaml_host_ok; }

# progress: condense `go build -v` / `go install -v` output into a line per 25 modules downloaded and per
# 100 packages compiled; errors pass through.
progress() {
    awk '
        /^go: downloading/ { d++; if (d % 25 == 0) printf "pulumi-cli:   %d modules downloaded\n", d > "/dev/stderr"; next }
        /^[a-z]/ && !/:/   { n++; if (n % 100 == 0) printf "pulumi-cli:   %d packages compiled\n", n > "/dev/stderr"; next }
        { print > "/dev/stderr" }'
}

if complete; then
    exit 0
fi
mkdir -p "$BIN"

# 2. A Pulumi CLI the user installed: use it as it is, with the plugins it ships beside it.
ambient="$(PATH="$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$BIN" | paste -sd: -)" command -v pulumi || true)"
if [ -n "$ambient" ]; then
    have="$(installed_version "$ambient")"
    if version_ge "$have" "$PULUMI_VERSION"; then
        say "using $ambient ($have, at or above the pin v$PULUMI_VERSION)"
        ln -sf "$ambient" "$BIN/pulumi"
        if [ -x "$(dirname "$ambient")/$PROVIDER_LAUNCHER" ]; then
            ln -sf "$(dirname "$ambient")/$PROVIDER_LAUNCHER" "$BIN/$PROVIDER_LAUNCHER"
        fi
        if [ -x "$(dirname "$ambient")/$YAML_HOST" ] && ! yaml_host_ok; then
            ln -sf "$(dirname "$ambient")/$YAML_HOST" "$BIN/$YAML_HOST"
        fi
        PULUMI_VERSION="${have#v}"
        if complete; then
            exit 0
        fi
        [ -x "$BIN/$PROVIDER_LAUNCHER" ] ||
            say "$ambient has no $PROVIDER_LAUNCHER beside it; taking it from Pulumi's Go modules"
        yaml_host_ok || say "$ambient has no $YAML_HOST beside it; building it from $YAML_MODULE"
    else
        say "ignoring $ambient: $have is older than the pin v$PULUMI_VERSION"
    fi
fi

# 3. Build from Pulumi's Go modules.
if ! command -v go >/dev/null 2>&1; then
    say "no Pulumi CLI v$PULUMI_VERSION or newer on PATH (with $YAML_HOST beside it), and no Go toolchain to build one."
    say "Install Pulumi (https://www.pulumi.com/docs/iac/download-install/), e.g."
    say "    curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_VERSION"
    say "then run 'make pulumi-cli' again, or install Go 1.26+ and let this script build it."
    exit 1
fi

export GOFLAGS=-mod=mod
# `go mod download -json` names the module's directory in the module cache.
module_dir() {
    go mod download -json "$1@v$PULUMI_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'
}
if ! cli_ok; then
    say "downloading github.com/pulumi/pulumi/{pkg,sdk}/v3@v$PULUMI_VERSION from the Go module proxy"
    pkg_dir="$(module_dir github.com/pulumi/pulumi/pkg/v3)"
    sdk_dir="$(module_dir github.com/pulumi/pulumi/sdk/v3)"
    [ -n "$pkg_dir" ] && [ -n "$sdk_dir" ] || { say "could not download Pulumi's Go modules at v$PULUMI_VERSION"; exit 1; }

    if [ "$(installed_version "$BIN/pulumi" 2>/dev/null || true)" != "v$PULUMI_VERSION" ]; then
        # pkg/go.mod replaces sdk/v3 with ../sdk (the monorepo layout), so `go install pkg/v3/cmd/pulumi@v…`
        # refuses. Build a copy of the released module whose sdk/v3 requirement is the same released version.
        work="$(mktemp -d)"
        trap 'rm -rf "$work"' EXIT
        cp -R "$pkg_dir/." "$work/pkg"
        chmod -R u+w "$work/pkg"
        (cd "$work/pkg" && go mod edit -dropreplace github.com/pulumi/pulumi/sdk/v3 \
            -require "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION")
        say "building the Pulumi CLI v$PULUMI_VERSION with $(go version | cut -d' ' -f3) (several minutes on 2 cores on first build)"
        start=$SECONDS
        (cd "$work/pkg" && go build -v -trimpath -o "$BIN/pulumi.new" \
            -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
            ./cmd/pulumi) 2>&1 | progress
        [ "${PIPESTATUS[0]}" -eq 0 ] || { say "go build failed"; exit 1; }
        mv "$BIN/pulumi.new" "$BIN/pulumi"
        say "built in $((SECONDS - start)) s"
    fi
    if [ ! -x "$BIN/$PROVIDER_LAUNCHER" ]; then
        install -m 0755 "$sdk_dir/python/dist/$PROVIDER_LAUNCHER" "$BIN/$PROVIDER_LAUNCHER"
    fi
fi

if ! yaml_host_ok; then
    # The released module as it is (its go.mod has no replace directives), so `go install mod@version` works.
    say "building $YAML_HOST v$PULUMI_YAML_VERSION from $YAML_MODULE with $(go version | cut -d' ' -f3) (minutes on first build)"
    start=$SECONDS
    rm -f "$BIN/$YAML_HOST"
    # The module cache first, as a file proxy (`go install mod@version` looks the module up even when it is
    # there, and fails offline), then the configured proxy.
    GOPROXY="file://$(go env GOMODCACHE)/cache/download,$(go env GOPROXY)" GOBIN="$BIN" \
        go install -v -trimpath -ldflags "-s -w" "$YAML_MODULE/cmd/$YAML_HOST@v$PULUMI_YAML_VERSION" 2>&1 | progress
    [ "${PIPESTATUS[0]}" -eq 0 ] || { say "go install of $YAML_HOST failed"; exit 1; }
    say "built $YAML_HOST in $((SECONDS - start)) s"
fi
complete || { say "installation incomplete in $BIN"; exit 1; }
say "$("$BIN/pulumi" version) in $BIN"
