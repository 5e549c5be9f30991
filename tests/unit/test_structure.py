"""The package's structure as users and tools rely on it: a root that loads without Pulumi, and modules that use
each other's public names only (issue 16)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "provider" / "pulumi_imburse"

BLOCK_PULUMI = textwrap.dedent("""
    import sys

    class NoPulumi:
        # As if the Pulumi SDK were not installed: importing it fails.
        def find_spec(self, name, path=None, target=None):
            if name == "pulumi" or name.startswith("pulumi."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NoPulumi())
""")


def run_without_pulumi(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_PULUMI + textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=60, check=False)


def test_the_light_modules_import_where_pulumi_is_not_installed() -> None:
    done = run_without_pulumi("""
        import pulumi_imburse.auth, pulumi_imburse.client
        import pulumi_imburse.emulator, pulumi_imburse.emulator.server, pulumi_imburse.emulator.process
        import pulumi_imburse.keys.rules, pulumi_imburse.keys.create, pulumi_imburse.ledger, pulumi_imburse.shapes
        import pulumi_imburse.refresh, pulumi_imburse.journal, pulumi_imburse.lifeline
        from pulumi_imburse import ImburseClient, TENANT_ROLES, AdoptionError, __version__
        print("imported", __version__)
    """)
    assert done.returncode == 0, done.stderr
    assert "imported" in done.stdout


def test_the_resources_load_lazily_and_say_what_is_missing_without_pulumi() -> None:
    done = run_without_pulumi("from pulumi_imburse import TenantKey")
    assert done.returncode != 0
    assert "No module named 'pulumi" in done.stderr


def test_the_resources_are_importable_from_the_root() -> None:
    import pulumi_imburse
    from pulumi_imburse import RotatingTenantKey, Tenant, TenantKey
    from pulumi_imburse.tenant_key import TenantKey as Direct

    assert TenantKey is Direct and {Tenant.__name__, RotatingTenantKey.__name__} <= set(pulumi_imburse.__all__)


def _private_imports(path: Path) -> list[str]:
    """``from <pulumi_imburse module> import _name`` and ``<module>._name`` uses of a sibling's private name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: set[str] = set()
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").startswith("pulumi_imburse")
            for alias in node.names:
                if ours and alias.name.startswith("_") and not alias.name.startswith("__"):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
                if ours:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules |= {(a.asname or a.name).split(".")[-1] for a in node.names if a.name.startswith("pulumi_imburse")}
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    return found


@pytest.mark.parametrize("path", [*sorted(PACKAGE.rglob("*.py")), *sorted((REPO / "benchmarks").glob("*.py"))],
                         ids=lambda p: str(p.relative_to(REPO)))
def test_no_module_uses_another_modules_private_names(path: Path) -> None:
    assert _private_imports(path) == []
