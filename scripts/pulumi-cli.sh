#!/usr/bin/env bash
# `make pulumi-cli`: put a pinned Pulumi CLI, the launcher it needs to run Python dynamic providers, the
# Pulumi YAML language host and Pulumi's Python, Node.js and Go language hosts into .tools/bin/. Does nothing
# when they are already there.
#
#   1. .tools/bin/pulumi already at the pinned version          -> nothing to do
#   2. a `pulumi` on PATH at or above the pin                    -> link it (and its plugins) into .tools/bin
#   3. a `go` toolchain                                          -> build the CLI from Pulumi's Go modules
#   4. otherwise                                                 -> stop, saying how to install Pulumi
# Each language host likewise: already in .tools/bin at its pin, beside a linked CLI, or built with go.
#
# Environment: PULUMI_VERSION (the pin, default below), PULUMI_YAML_VERSION (the YAML host's pin),
# TOOLS_DIR (default .tools).
set -euo pipefail

PULUMI_VERSION="${PULUMI_VERSION:-3.274.1}"
PULUMI_YAML_VERSION="${PULUMI_YAML_VERSION:-1.25.0}"
PULUMI_PIN="$PULUMI_VERSION"  # the scripts beside the language hosts come from sdk/v3 at the pin
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS_DIR/bin"
# The launcher the engine looks for on PATH to run Python dynamic providers (`python -m pulumi.dynamic`),
# shipped by Pulumi beside the CLI and in the sdk/v3 Go module (sdk/python/dist/).
#
# The language host of Pulumi YAML programs, a Go module of its own (github.com/pulumi/pulumi-yaml).
#
# The Python, Node.js and Go language hosts (tools/language-hosts/<language>): since pulumi/pulumi#13819
# (v3.80.0) and its like, each is a nested module of pulumi/pulumi with no version tag and with replace
# directives to the monorepo's directories, which cannot be built from the Go module proxy. Until then each
# was a package of the github.com/pulumi/pulumi/sdk/v3 module, which the proxy serves: the Python host up to
# sdk v3.79.0, the Node.js host up to v3.68.0, the Go host up to v3.66.0. tools/language-hosts/<language>/
# go.mod pins that last version, and this script builds the host from it. They run programs with this CLI (the engine falls back where an old host lacks a newer call); they
# do not read the project's runtime options (`virtualenv:`): a Python program needs its virtualenv active.
# Beside them go the newer scripts they start: the Python host's `pulumi-language-python-exec` and the
# Node.js dynamic-provider launcher, from the sdk/v3 module at the CLI's version.
PROVIDER_LAUNCHER=pulumi-resource-pulumi-python
YAML_HOST=pulumi-language-yaml
YAML_MODULE=github.com/pulumi/pulumi-yaml
HOSTS_SRC="$ROOT/tools/language-hosts"
LANGUAGES="python nodejs go"
SDK_MODULE=github.com/pulumi/pulumi/sdk/v3

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

# The language hosts: host_package LANG is the host's package path (tools/language-hosts/LANG/tools.go),
# host_sdk_version LANG the sdk/v3 version that module pins, host_extra LANG the script that goes beside the
# host (its path in the sdk/v3 module), if any.
host_package() { sed -n 's/^import _ "\(.*\)"$/\1/p' "$HOSTS_SRC/$1/tools.go"; }
host_sdk_version() { sed -n "s#^require $SDK_MODULE v\([0-9.]*\)\$#\1#p" "$HOSTS_SRC/$1/go.mod"; }
host_extra() {
    case "$1" in
        python) echo python/cmd/pulumi-language-python-exec ;;  # the host runs programs through it
        nodejs) echo nodejs/dist/pulumi-resource-pulumi-nodejs ;;  # the engine runs dynamic providers with it
    esac
}

# host_ok LANG: pulumi-language-LANG is in $BIN, linked from a user's Pulumi install (taken as it is, its
# scripts beside it), or built at its pin with its script beside it.
host_ok() {
    local host="$BIN/pulumi-language-$1" extra
    [ -x "$host" ] || return 1
    [ -L "$host" ] && return 0
    extra="$(host_extra "$1")"
    [ -z "$extra" ] || [ -x "$BIN/$(basename "$extra")" ] || return 1
    command -v go >/dev/null 2>&1 || return 0
    go version -m "$host" 2>/dev/null |
        grep -Eq "^[[:space:]]+(mod|dep)[[:space:]]+$SDK_MODULE[[:space:]]+v$(host_sdk_version "$1")([[:space:]]|\$)"
}

hosts_ok() {
    local lang
    for lang in $LANGUAGES; do host_ok "$lang" || return 1; done
}

cli_ok() {
    [ -x "$BIN/pulumi" ] && [ -x "$BIN/$PROVIDER_LAUNCHER" ] &&
        [ "$(installed_version "$BIN/pulumi")" = "v$PULUMI_VERSION" ]
}

complete() { cli_ok && yaml_host_ok && hosts_ok; }

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
        for lang in $LANGUAGES; do
            if [ -x "$(dirname "$ambient")/pulumi-language-$lang" ] && ! host_ok "$lang"; then
                ln -sf "$(dirname "$ambient")/pulumi-language-$lang" "$BIN/pulumi-language-$lang"
            fi
        done
        PULUMI_VERSION="${have#v}"
        if complete; then
            exit 0
        fi
        [ -x "$BIN/$PROVIDER_LAUNCHER" ] ||
            say "$ambient has no $PROVIDER_LAUNCHER beside it; taking it from Pulumi's Go modules"
        yaml_host_ok || say "$ambient has no $YAML_HOST beside it; building it from $YAML_MODULE"
        for lang in $LANGUAGES; do
            host_ok "$lang" || say "$ambient has no pulumi-language-$lang beside it; building it from $SDK_MODULE"
        done
    else
        say "ignoring $ambient: $have is older than the pin v$PULUMI_VERSION"
    fi
fi

# 3. Build from Pulumi's Go modules.
if ! command -v go >/dev/null 2>&1; then
    say "no Pulumi CLI v$PULUMI_VERSION or newer on PATH (with its language hosts beside it), and no Go toolchain to build one."
    say "Install Pulumi (https://www.pulumi.com/docs/iac/download-install/), e.g."
    say "    curl -fsSL https://get.pulumi.com | sh -s -- --version $PULUMI_VERSION"
    say "then run 'make pulumi-cli' again, or install Go 1.26+ and let this script build it."
    exit 1
fi

export GOFLAGS=-mod=mod
# `go mod download -json` names the module's directory in the module cache.
module_dir() {
    go mod download -json "$1@v${2:-$PULUMI_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p'
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
for lang in $LANGUAGES; do
    host_ok "$lang" && continue
    host="pulumi-language-$lang"
    version="$(host_sdk_version "$lang")"
    package="$(host_package "$lang")"
    [ -n "$version" ] && [ -n "$package" ] || { say "tools/language-hosts/$lang pins no $SDK_MODULE host"; exit 1; }
    say "building $host from $SDK_MODULE@v$version (its last release with that host) with $(go version | cut -d' ' -f3) (about a minute on first build)"
    start=$SECONDS
    # The committed go.sum pins every module; -mod=readonly builds exactly that.
    (cd "$HOSTS_SRC/$lang" && go build -mod=readonly -v -trimpath -o "$BIN/$host.new" \
        -ldflags "-s -w -X $SDK_MODULE/go/common/version.Version=v$version" "$package") 2>&1 | progress
    [ "${PIPESTATUS[0]}" -eq 0 ] || { say "go build of $host failed"; exit 1; }
    extra="$(host_extra "$lang")"
    if [ -n "$extra" ]; then
        pin_sdk_dir="${pin_sdk_dir:-$(module_dir "$SDK_MODULE" "$PULUMI_PIN")}"
        [ -n "$pin_sdk_dir" ] || { say "could not download $SDK_MODULE@v$PULUMI_PIN"; exit 1; }
        install -m 0755 "$pin_sdk_dir/$extra" "$BIN/$(basename "$extra").new"
        mv "$BIN/$(basename "$extra").new" "$BIN/$(basename "$extra")"
    fi
    mv "$BIN/$host.new" "$BIN/$host"
    say "built $host in $((SECONDS - start)) s"
done
complete || { say "installation incomplete in $BIN"; exit 1; }
say "$("$BIN/pulumi" version) in $BIN"
