#!/usr/bin/env bash
# `make sdks`: generate the Imburse SDKs from the plugin's schema with `pulumi package gen-sdk`.
#
#   scripts/gen-sdks.sh [OUT]      OUT defaults to sdk/; writes OUT/<language> for each of SDK_LANGUAGES
#
# `pulumi package gen-sdk --language L` hands the bound schema to the language plugin pulumi-language-L, which
# runs Pulumi's code generator for L, of that plugin's version. The nodejs, go and python hosts that
# `make pulumi-cli` builds are older than the CLI (the newest the Go module proxy serves), so this script
# builds tools/codegen-host, which serves just that call with Pulumi's own generators at the CLI's version,
# links it under the three plugin names in .tools/codegen, and puts that directory on PATH for gen-sdk only.
# A Pulumi install whose language hosts are at the CLI's version generates the same files.
#
# The nodejs SDK is generated with --local: package.json gets "main": "bin/index.js", so the TypeScript
# example and tests use it as a `file:` dependency once `make node` has compiled it (tsc).
# The Go SDK's module is sdk/go.mod (github.com/pulumi-imburse/pulumi-imburse/sdk), kept tidy here when OUT
# is sdk/. .NET is not generated: its generator lives in the pulumi-dotnet language host, which the Go
# module proxy does not serve either.
#
# Environment: SDK_LANGUAGES (default "nodejs go python"), TOOLS_DIR (default .tools), the pins of
# scripts/pulumi-cli.sh.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS_DIR="${TOOLS_DIR:-$ROOT/.tools}"
OUT="${1:-$ROOT/sdk}"
SCHEMA="$ROOT/provider/pulumi_imburse/plugin/schema.json"
SDK_LANGUAGES="${SDK_LANGUAGES:-nodejs go python}"
CODEGEN_SRC="$ROOT/tools/codegen-host"
CODEGEN_DIR="$TOOLS_DIR/codegen"
CODEGEN_BIN="$CODEGEN_DIR/pulumi-language-codegen"
GO_SDK_MODULE=github.com/pulumi-imburse/pulumi-imburse/sdk

say() { printf 'gen-sdks: %s\n' "$*" >&2; }

bash "$ROOT/scripts/pulumi-cli.sh"
PULUMI="$TOOLS_DIR/bin/pulumi"

# The code generator host: rebuilt when its sources are newer than the binary.
stale=0
[ -x "$CODEGEN_BIN" ] || stale=1
for f in main.go go.mod go.sum; do
    [ "$CODEGEN_SRC/$f" -nt "$CODEGEN_BIN" ] && stale=1
done
if [ "$stale" = 1 ]; then
    command -v go >/dev/null 2>&1 || { say "building $CODEGEN_SRC needs a Go toolchain (1.26+)"; exit 1; }
    say "building the code generator host (tools/codegen-host) with $(go version | cut -d' ' -f3)"
    start=$SECONDS
    mkdir -p "$CODEGEN_DIR"
    (cd "$CODEGEN_SRC" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$CODEGEN_BIN.new" .)
    mv "$CODEGEN_BIN.new" "$CODEGEN_BIN"
    say "built in $((SECONDS - start)) s"
fi
for language in nodejs go python; do
    ln -sf "$(basename "$CODEGEN_BIN")" "$CODEGEN_DIR/pulumi-language-$language"
done

mkdir -p "$OUT"
for language in $SDK_LANGUAGES; do
    flags=()
    [ "$language" = nodejs ] && flags+=(--local)
    # gen-sdk empties OUT/<language> first. Its "using pulumi-language-L from $PATH" warning is expected here.
    PATH="$CODEGEN_DIR:$PATH" PULUMI_SKIP_UPDATE_CHECK=true \
        "$PULUMI" package gen-sdk "$SCHEMA" --language "$language" --out "$OUT" "${flags[@]}" 2>&1 |
        { grep -v "^warning: using pulumi-language-$language from \$PATH" || true; } >&2
    [ "${PIPESTATUS[0]}" -eq 0 ] || { say "gen-sdk --language $language failed"; exit 1; }
done

# sdk/go.mod: the Go SDK's module, requiring the Pulumi Go SDK at the CLI's version.
if [ "$OUT" = "$ROOT/sdk" ] && [[ " $SDK_LANGUAGES " == *" go "* ]]; then
    pulumi_version="$("$PULUMI" version | tr -d '[:space:]')"
    (
        cd "$OUT"
        export GOFLAGS=-mod=mod
        # The go line: the lowest the requirements allow (tidy raises it to theirs), not this toolchain's.
        [ -f go.mod ] || { go mod init "$GO_SDK_MODULE" >/dev/null 2>&1 && go mod edit -go=1.21; }
        go get "github.com/pulumi/pulumi/sdk/v3@$pulumi_version" >/dev/null 2>&1
        go mod tidy
    )
fi
say "SDKs ($SDK_LANGUAGES) written to $OUT"
