#!/usr/bin/env bash
# `make vault`: a real HashiCorp Vault server binary in .tools/bin/vault for the tests of the vault-kv2 secret
# store (`vault server -dev` on loopback). Does nothing when .tools/bin/vault is already at the pin.
#
# Vault is built from its Go module (github.com/hashicorp/vault, served by the Go module proxy; BUSL 1.1, used
# here for tests only). The module's go.mod replaces github.com/hashicorp/vault/{api,api/auth/*,sdk} with
# directories that are not in the module zip: those replace lines are dropped, so the published modules are used.
# The published vault/sdk v0.21.0 differs from the release's own sdk in three call sites, which
# tools/vault/sdk-v0.21.0.patch adapts (no behaviour the KV v2 engine uses). A cold build takes about 10 minutes
# on 2 cores and about 4 GB of module cache.
#
# Environment: VAULT_VERSION (the pin, default below), TOOLS_DIR (default .tools).
set -euo pipefail

VAULT_VERSION="${VAULT_VERSION:-1.21.4}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
BIN="$TOOLS_DIR/bin"
MODULE=github.com/hashicorp/vault
PATCH="$ROOT/tools/vault/sdk-v0.21.0.patch"

say() { printf 'vault: %s\n' "$*" >&2; }

if [ -x "$BIN/vault" ] && "$BIN/vault" version 2>/dev/null | grep -q "^Vault v$VAULT_VERSION[, ]"; then
    exit 0
fi
command -v go >/dev/null 2>&1 || { say "needs a Go toolchain (https://go.dev/dl/) to build Vault v$VAULT_VERSION"; exit 1; }

mkdir -p "$BIN"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
say "building Vault v$VAULT_VERSION from $MODULE with $(go env GOVERSION) (about 10 minutes on first build)"
start=$(date +%s)
dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "$MODULE@v$VAULT_VERSION" |
       sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$dir" ] || { say "go mod download of $MODULE@v$VAULT_VERSION gave no directory"; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
cd "$work/src"
sed -i '/^replace github\.com\/hashicorp\/vault\/\(api\|sdk\)[^ ]* => \.\//d' go.mod
patch -p1 --quiet < "$PATCH"
go build -mod=mod -trimpath -ldflags "-s -w" -o "$BIN/vault.new" .
mv "$BIN/vault.new" "$BIN/vault"
say "built $("$BIN/vault" version) in $(( $(date +%s) - start )) s"
