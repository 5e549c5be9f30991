"""The SDKs in sdk/ are what `make sdks` generates from the plugin's schema today: regenerating changes nothing.

So the schema, served by the plugin's GetSchema, and the SDKs committed beside it never drift apart: a schema
change without `make sdks` (or a hand edit of a generated file) fails here, naming the files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..engine import REPO

LANGUAGES = ("nodejs", "go", "python")


def repo_files(language: str) -> list[str]:
    """The files of sdk/<language>, committed or not, less what git ignores (builds, node_modules)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "--", f"sdk/{language}"], cwd=REPO,
                         capture_output=True, text=True, check=True)
    prefix = f"sdk/{language}/"
    return sorted(line[len(prefix):] for line in out.stdout.splitlines() if (REPO / line).is_file())


def test_regenerated_sdks_equal_the_committed_ones(tmp_path: Path) -> None:
    run = subprocess.run(["bash", str(REPO / "scripts" / "gen-sdks.sh"), str(tmp_path)], capture_output=True,
                         text=True, timeout=900, check=False)
    assert run.returncode == 0, run.stderr[-4000:]
    for language in LANGUAGES:
        generated_root = tmp_path / language
        generated = sorted(str(p.relative_to(generated_root)) for p in generated_root.rglob("*") if p.is_file())
        assert generated, f"gen-sdk wrote no {language} SDK"
        committed = repo_files(language)
        assert generated == committed, (
            f"sdk/{language} has other files than `make sdks` generates: run `make sdks` and commit sdk/")
        differ = [name for name in generated
                  if (generated_root / name).read_bytes() != (REPO / "sdk" / language / name).read_bytes()]
        assert not differ, (f"sdk/{language}: {', '.join(differ)} differ from what `make sdks` generates from "
                            "the schema: run `make sdks` and commit sdk/")
