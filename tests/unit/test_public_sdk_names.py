"""Our Python code uses only public names of the Pulumi SDK (``pulumi``) and the policy SDK (``pulumi_policy``).

A ``_``-prefixed module, function, class or constant of theirs can change or vanish in any release without a word,
breaking the plugin or the pack though no line of ours changed. The check reads every Python file of the
repository (tracked or new, not ignored) with :mod:`ast` and finds, wherever it is reached from an import of
either SDK: an import of a private module or name, an attribute chain through a private name, ``getattr`` and
kin with a private name, and a dotted path naming one in a string (a ``mock.patch`` target, code run with
``python -c``, which is also parsed and checked). Dunder names (``__version__``) are public.

``sdk/`` is left out: it is what ``pulumi package gen-sdk`` generates (``make sdks``; tests/languages/test_sdks.py
checks it is exactly that), and Pulumi's generated code calls Pulumi's own internals (``pulumi._utils``).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SDKS = ("pulumi", "pulumi_policy")
GENERATED = ("sdk/",)
"""Paths (prefixes, from the repository root) of generated code, which is not checked."""
_DOTTED = re.compile(r"\b(?:pulumi|pulumi_policy)(?:\.\w+)+")


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def private_sdk_names(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` of each private name of ``pulumi`` or ``pulumi_policy`` that ``source`` uses."""
    tree = ast.parse(source)
    bound: set[str] = set()  # local names that are an SDK module or something imported from one
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in SDKS:
                    bound.add(alias.asname or alias.name.split(".")[0])
                    if any(_private(part) for part in alias.name.split(".")):
                        found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in SDKS:
                for alias in node.names:
                    bound.add(alias.asname or alias.name)
                    if any(_private(part) for part in [*node.module.split("."), alias.name]):
                        found.append((node.lineno, f"from {node.module} import {alias.name}"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            root = _root(node)
            if isinstance(root, ast.Name) and root.id in bound:
                found.append((node.lineno, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2):
            root, name = _root(node.args[0]), node.args[1]
            if (isinstance(root, ast.Name) and root.id in bound and isinstance(name, ast.Constant)
                    and isinstance(name.value, str) and _private(name.value)):
                found.append((node.lineno, ast.unparse(node)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "pulumi" in node.value:
            found += [(node.lineno, f"{path!r} in a string") for path in _DOTTED.findall(node.value)
                      if any(_private(part) for part in path.split("."))]
            try:
                code = private_sdk_names(node.value)
            except (SyntaxError, ValueError):
                continue
            found += [(node.lineno, f"{what} in code in a string") for _, what in code]
    return sorted(set(found))


def python_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", "*.py"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    files = [REPO / p for p in out.split("\0") if p and not p.startswith(GENERATED) and (REPO / p).is_file()]
    return [f for f in files if f != Path(__file__).resolve()]  # this file's examples name private names on purpose


def test_no_private_name_of_the_pulumi_sdks_is_used() -> None:
    files = python_files()
    assert any(f.name == "server.py" and f.parent.name == "plugin" for f in files)  # the check sees our code
    uses = [f"{f.relative_to(REPO)}:{line}: {what}"
            for f in files for line, what in private_sdk_names(f.read_text(encoding="utf-8"))]
    assert uses == [], ("private names of pulumi / pulumi_policy, which a release may change without notice: use a "
                        "public API, or define a protocol constant yourself citing its spec (as plugin/server.py "
                        "does):\n" + "\n".join(uses))


@pytest.mark.parametrize("source", [
    "from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS",
    "import pulumi.runtime._grpc_settings as g",
    "from pulumi.runtime import rpc\nSIG = rpc._special_sig_key",
    "import pulumi.runtime.rpc\nSIG = pulumi.runtime.rpc._special_secret_sig",
    "import pulumi_policy.policy\npulumi_policy.policy._PolicyAnalyzerServicer.Configure = None",
    "import pulumi_policy.policy\nservicer = getattr(pulumi_policy.policy, '_PolicyAnalyzerServicer')",
    "from pulumi_policy import policy as p\nclass S(p._PolicyAnalyzerServicer): pass",
    "from pulumi.runtime.sync_await import _sync_await",
    "from unittest import mock\nmock.patch('pulumi.runtime.settings._engine')",
    "HOST = 'import grpc\\nfrom pulumi.runtime.sync_await import _sync_await\\n'",
])
def test_the_check_finds_a_private_name(source: str) -> None:
    assert private_sdk_names(source) != []


@pytest.mark.parametrize("source", [
    "from pulumi.runtime.proto import provider_pb2, analyzer_pb2_grpc",
    "import pulumi\nprint(pulumi.__version__, pulumi.Output.secret)",
    "from pulumi_policy import PolicyPack\nfrom pulumi_policy.deserialize import SPECIAL_SIG_KEY",
    "import other\nother._private_thing()",
    "class A:\n    def _mine(self): return self._x",
    "MESSAGE = 'pulumi and _private words'",
])
def test_the_check_leaves_public_names_alone(source: str) -> None:
    assert private_sdk_names(source) == []
