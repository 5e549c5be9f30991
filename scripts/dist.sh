#!/usr/bin/env bash
# `make dist`: every file a release publishes, built into dist/ (the release workflow runs the same targets).
#
#   scripts/dist.sh            everything below, for this machine's OS and architecture
#   scripts/dist.sh plugin     only the plugin archive (the release matrix builds one per OS/architecture)
#   scripts/dist.sh checksums  SHA256SUMS again (the release job adds the other platforms' archives first)
#
# dist/
#   pulumi_imburse-V-py3-none-any.whl, pulumi_imburse-V.tar.gz      PyPI `pulumi-imburse` (twine check --strict)
#   pulumi-resource-imburse-vV-OS-ARCH.tar.gz                        the plugin, self-contained (PyInstaller
#                                                                    --onedir: the executable at the root, _internal/)
#   pulumi_imburse_sdk-V-py3-none-any.whl, pulumi_imburse_sdk-V.tar.gz   PyPI `pulumi_imburse_sdk` (sdk/python)
#   pulumi-imburse-imburse-V.tgz                                     npm `@pulumi-imburse/imburse`: compiled JS and
#                                                                    .d.ts, no install script
#   goproxy/github.com/pulumi-imburse/pulumi-imburse/sdk/@v/...      the Go SDK module vV as a module proxy serves
#                                                                    it (GOPROXY=file://.../dist/goproxy); released
#                                                                    as the repository tag sdk/vV
#   imburse-guardrails-vV.tar.gz                                     the policy pack, requiring pulumi-imburse==V
#   schema.json                                                      the package schema
#   SHA256SUMS                                                       sha256sum -c SHA256SUMS
#
# V is provider/pulumi_imburse/version.py's. Environment: PYTHON (the interpreter the build venvs are made from,
# default python3), DIST (default dist), BUILD (scratch, default build).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
DIST="${DIST:-$ROOT/dist}"
BUILD="${BUILD:-$ROOT/build}"
GO_MODULE=github.com/pulumi-imburse/pulumi-imburse/sdk
PLUGIN=pulumi-resource-imburse
PACK=imburse-guardrails

say() { printf 'dist: %s\n' "$*" >&2; }

VERSION="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' provider/pulumi_imburse/version.py)"
[ -n "$VERSION" ] || { say "no __version__ in provider/pulumi_imburse/version.py"; exit 1; }

# The plugin's OS and architecture in Pulumi's names (the engine asks for pulumi-resource-NAME-vV-OS-ARCH.tar.gz).
platform() {
    local os arch
    case "$(uname -s)" in
        Linux) os=linux ;; Darwin) os=darwin ;; MINGW* | MSYS* | CYGWIN*) os=windows ;;
        *) say "unsupported OS $(uname -s)"; exit 1 ;;
    esac
    case "$(uname -m)" in
        x86_64 | amd64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;;
        *) say "unsupported architecture $(uname -m)"; exit 1 ;;
    esac
    printf '%s-%s' "$os" "$arch"
}

# venv_python DIR: the interpreter of a virtualenv (bin/ on POSIX, Scripts/ on Windows).
venv_python() { if [ -x "$1/bin/python" ]; then echo "$1/bin/python"; else echo "$1/Scripts/python.exe"; fi; }

# A tar.gz of DIR's contents (at the archive root) that depends only on the files: sorted, no owners, fixed times.
archive() {
    local dir="$1" out="$2"
    if tar --version 2>/dev/null | grep -q GNU; then
        tar -C "$dir" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' -cf - . |
            gzip -n -9 >"$out"
    else  # bsdtar (macOS, Windows)
        tar -C "$dir" -cf - . | gzip -n -9 >"$out"
    fi
}

# The frozen plugin for this machine, from the wheel of pulumi-imburse (built first if dist/ has none) with its
# extra `stores` (boto3 and hvac: a key's destination in AWS Secrets Manager or Vault; a plugin user cannot pip
# install an extra into the archive), in a virtualenv of its own that holds only the plugin's dependencies and
# PyInstaller.
build_plugin() {
    local wheel="$DIST/pulumi_imburse-$VERSION-py3-none-any.whl" venv="$BUILD/plugin-venv" py target
    target="$(platform)"
    mkdir -p "$BUILD" "$DIST"
    if [ ! -f "$wheel" ]; then
        "$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$BUILD/wheel" .
        wheel="$BUILD/wheel/pulumi_imburse-$VERSION-py3-none-any.whl"
    fi
    rm -rf "$venv" "$BUILD/pyinstaller"
    "$PYTHON" -m venv "$venv"
    py="$(venv_python "$venv")"
    "$py" -m pip install --quiet --upgrade pip
    "$py" -m pip install --quiet "$wheel[stores]" "pyinstaller>=6.10,<7"
    say "freezing the plugin for $target ($("$py" -c 'import platform; print(platform.python_version())'), PyInstaller $("$py" -m PyInstaller --version))"
    "$py" -m PyInstaller --noconfirm --clean --log-level WARN --distpath "$BUILD/pyinstaller/dist" \
        --workpath "$BUILD/pyinstaller/work" scripts/plugin.spec
    local frozen="$BUILD/pyinstaller/dist/$PLUGIN" exe="$PLUGIN"
    [ "${target%%-*}" = windows ] && exe="$PLUGIN.exe"
    # The executable must answer on its own (no Python on PATH) before it is archived.
    [ "$(env PATH=/nonexistent "$frozen/$exe" --version | tr -d '\r')" = "$VERSION" ] ||
        { say "the frozen plugin does not print its version $VERSION"; exit 1; }
    archive "$frozen" "$DIST/$PLUGIN-v$VERSION-$target.tar.gz"
    say "$DIST/$PLUGIN-v$VERSION-$target.tar.gz"
}

# The npm package: the generated SDK compiled (the root's TypeScript, `make node`), published from its bin/
# with a package.json that has no install script and no compile-time dependencies.
build_npm() {
    local src="$BUILD/sdk-nodejs"
    rm -rf "$src" && mkdir -p "$src"
    cp -R sdk/nodejs/. "$src/"
    rm -rf "$src/bin" "$src/node_modules"
    node_modules/.bin/tsc -p "$src"
    node - "$src/package.json" "$src/bin/package.json" <<'JS'
const fs = require("node:fs");
const [source, target] = process.argv.slice(2);
const pkg = JSON.parse(fs.readFileSync(source, "utf8"));
delete pkg.scripts;  // the postinstall compiled the sources: the package holds the compiled files instead
pkg.main = "index.js";
pkg.types = "index.d.ts";
// typescript and @types/node compiled it; what runs is @pulumi/pulumi alone.
pkg.dependencies = { "@pulumi/pulumi": pkg.dependencies["@pulumi/pulumi"] };
pkg.homepage = "https://github.com/pulumi-imburse/pulumi-imburse#readme";
pkg.repository = { type: "git", url: "git+https://github.com/pulumi-imburse/pulumi-imburse.git", directory: "sdk/nodejs" };
pkg.files = ["**/*.js", "**/*.d.ts", "**/*.js.map", "**/*.d.ts.map", "README.md"];
pkg.engines = { node: ">=18" };
fs.writeFileSync(target, JSON.stringify(pkg, null, 4) + "\n");
JS
    cp sdk/nodejs/README.md "$src/bin/README.md"
    (cd "$src/bin" && npm pack --silent --pack-destination "$DIST" >/dev/null)
}

# The Go SDK module as a module proxy serves it: list, .info, .mod and the module zip (made by Go's own
# golang.org/x/mod/zip rules: the files of sdk/ under MODULE@vV/, nested modules and vendor/ excluded).
build_go() {
    local proxy="$DIST/goproxy/$GO_MODULE/@v" tool="$BUILD/gomodzip"
    mkdir -p "$proxy" "$tool"
    cat >"$tool/main.go" <<'GO'
// gomodzip MODULE VERSION DIR OUT: the module zip of DIR, as `go mod download` would fetch it.
package main

import (
	"os"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func main() {
	out, err := os.Create(os.Args[4])
	if err != nil {
		panic(err)
	}
	defer out.Close()
	if err := zip.CreateFromDir(out, module.Version{Path: os.Args[1], Version: os.Args[2]}, os.Args[3]); err != nil {
		panic(err)
	}
}
GO
    printf 'module gomodzip\n\ngo 1.24\n\nrequire golang.org/x/mod v0.42.0\n' >"$tool/go.mod"
    (cd "$tool" && GOFLAGS=-mod=mod go build -o gomodzip . >"$tool/build.log" 2>&1) ||
        { cat "$tool/build.log" >&2; say "could not build the Go module zip tool"; exit 1; }
    # The module's files: what the repository holds under sdk/ for Go (the other SDKs' files beside it do not
    # change what `go get` compiles, and their build output must not slip in).
    rm -rf "$BUILD/gomod" && mkdir -p "$BUILD/gomod"
    cp -R sdk/go.mod sdk/go.sum sdk/go "$BUILD/gomod/"
    "$tool/gomodzip" "$GO_MODULE" "v$VERSION" "$BUILD/gomod" "$proxy/v$VERSION.zip"
    cp sdk/go.mod "$proxy/v$VERSION.mod"
    printf '{"Version":"v%s","Time":"%s"}\n' "$VERSION" "$(git log -1 --format=%cI 2>/dev/null || date -u +%Y-%m-%dT%H:%M:%SZ)" \
        >"$proxy/v$VERSION.info"
    printf 'v%s\n' "$VERSION" >"$proxy/list"
}

# The policy pack as a directory imburse-guardrails/ whose requirements.txt names the released package.
build_policy_pack() {
    local stage="$BUILD/policy/$PACK"
    rm -rf "$BUILD/policy" && mkdir -p "$stage"
    cp policy/PulumiPolicy.yaml policy/__main__.py policy/README.md policy/analyzer "$stage/"
    sed "s/^pulumi-imburse$/pulumi-imburse==$VERSION/" policy/requirements.txt >"$stage/requirements.txt"
    grep -qx "pulumi-imburse==$VERSION" "$stage/requirements.txt" ||
        { say "policy/requirements.txt has no 'pulumi-imburse' line to pin"; exit 1; }
    (cd "$BUILD/policy" && tar -cf - "$PACK" | gzip -n -9 >"$DIST/$PACK-v$VERSION.tar.gz")
}

# SHA256SUMS of every file in dist/ (`sha256sum -c SHA256SUMS` checks them).
checksums() {
    (cd "$DIST" && find . -type f ! -name SHA256SUMS | sed 's#^\./##' | LC_ALL=C sort | xargs sha256sum >SHA256SUMS)
}

case "${1:-}" in
    plugin) build_plugin; exit 0 ;;
    checksums) checksums; exit 0 ;;  # the release job, after adding the other platforms' plugin archives
esac

start=$SECONDS
rm -rf "$DIST" && mkdir -p "$DIST" "$BUILD"
say "pulumi-imburse $VERSION: wheel and sdist"
"$PYTHON" -m build --outdir "$DIST" . >"$BUILD/build.log" 2>&1 || { cat "$BUILD/build.log" >&2; exit 1; }
say "the Python SDK (sdk/python)"
rm -rf "$BUILD/sdk-python" && cp -R sdk/python "$BUILD/sdk-python"
# Its pyproject's readme is README.md beside it; gen-sdk writes that README into the package directory.
cp sdk/python/pulumi_imburse_sdk/README.md "$BUILD/sdk-python/README.md"
"$PYTHON" -m build --outdir "$DIST" "$BUILD/sdk-python" >"$BUILD/build-sdk.log" 2>&1 ||
    { cat "$BUILD/build-sdk.log" >&2; exit 1; }
"$PYTHON" -m twine check --strict "$DIST"/*.whl "$DIST"/*.tar.gz
say "the plugin"
build_plugin
say "the npm package"
build_npm
say "the Go SDK module"
build_go
say "the policy pack"
build_policy_pack
cp provider/pulumi_imburse/plugin/schema.json "$DIST/schema.json"
checksums
say "built in $((SECONDS - start)) s:"
(cd "$DIST" && find . -maxdepth 1 -type f -exec ls -l {} + | awk '{printf "dist:   %10d  %s\n", $5, $9}' >&2)
