#!/usr/bin/env bash
# `make mutate`: mutation testing (mutmut) of the core rules (auth, validation, roles, config, transport, the key
# rules, values; the list is [tool.mutmut] in pyproject.toml) against the unit layer (tests/unit), then the share of mutants
# killed. Not part of CI: a full run takes minutes. mutmut only finds packages under src/, so it runs in
# .mutate/ (gitignored), on copies of provider/ (as src/), tests/ and pyproject.toml.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
WORK="$ROOT/.mutate"
"$VENV/bin/python" -m pip install --quiet "mutmut>=3.8.1"
rm -rf "$WORK"
mkdir -p "$WORK"
cp -R "$ROOT/provider" "$WORK/src"
cp -R "$ROOT/tests" "$WORK/tests"
cp "$ROOT/pyproject.toml" "$WORK/"
cd "$WORK"
# mutmut draws a progress spinner; its log keeps the rest (a failing unit test stops it: see the log).
if ! "$VENV/bin/mutmut" run --max-children "${MUTATE_JOBS:-2}" >"$WORK/mutmut.log" 2>&1; then
    tr '\r' '\n' <"$WORK/mutmut.log" | grep -v '^[^A-Za-z]*Running\|^[^A-Za-z]*Generating' | tail -40 >&2
    echo "mutate: mutmut failed (log: $WORK/mutmut.log)" >&2
    exit 1
fi
"$VENV/bin/mutmut" export-cicd-stats >/dev/null
"$VENV/bin/python" - <<'PY'
import json
stats = json.load(open("mutants/mutmut-cicd-stats.json"))
done = stats["killed"] + stats["survived"] + stats.get("timeout", 0) + stats.get("suspicious", 0)
killed = stats["killed"] + stats.get("timeout", 0)
print(f"mutants: {stats['total']}, killed {killed}, survived {stats['survived']}, "
      f"no tests {stats.get('no_tests', 0)}, skipped {stats.get('skipped', 0)}")
print(f"killed: {100 * killed / max(done, 1):.1f}% of the {done} mutants the unit tests reach")
PY
echo "survivors: cd .mutate && $VENV/bin/mutmut results   (and: mutmut show <name>)"
