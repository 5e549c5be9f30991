"""``pulumi`` as the README tests run it: the real CLI, with ``up`` and ``preview`` of a Python project run
through the Automation API when the CLI has no Python language host.

This machine's CLI (``make pulumi-cli``) has no ``pulumi-language-python``, so ``pulumi up`` in a Python
project fails with "no language plugin". A README's ``pulumi up`` / ``pulumi preview`` therefore runs here as
what the language host would do: the project's ``__main__.py`` as an inline program of the same stack, in the
same project directory and backend, with the same flags, through the real CLI and engine
(:func:`pulumi_imburse.testing.stacks.project_program`). Every other command is the real CLI, unchanged.
A flag this shim does not know fails the command (exit 2) rather than being dropped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REAL = os.environ.get("DOCS_REAL_PULUMI", "")
"""The real CLI (``.tools/bin/pulumi``); set by the README test."""

VALUE_FLAGS = {"--stack": "stack", "-s": "stack", "--policy-pack": "policy_packs",
               "--policy-pack-config": "policy_pack_configs", "--message": "message", "-m": "message"}
BOOL_FLAGS = {"--refresh": "refresh", "-r": "refresh", "--yes": None, "-y": None, "--skip-preview": None,
              "--diff": "diff", "--non-interactive": None}


def _project_dir(start: Path) -> Path | None:
    for d in (start, *start.parents):
        if (d / "Pulumi.yaml").is_file():
            return d
    return None


def _is_python(project: Path) -> bool:
    runtime = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8")).get("runtime")
    name = runtime.get("name") if isinstance(runtime, dict) else runtime
    return name == "python"


def main(argv: list[str]) -> int:
    """Run ``pulumi argv``; see the module docs."""
    project = _project_dir(Path.cwd())
    if (not argv or argv[0] not in ("up", "preview") or project is None or not _is_python(project)
            or shutil.which("pulumi-language-python")):
        os.execv(REAL, [REAL, *argv])
    opts: dict[str, list[str] | str | bool] = {"policy_packs": [], "policy_pack_configs": []}
    args = iter(argv[1:])
    for arg in args:
        flag, _, inline = arg.partition("=")
        if flag in VALUE_FLAGS:
            value = inline or next(args)
            key = VALUE_FLAGS[flag]
            if key in ("policy_packs", "policy_pack_configs"):
                opts[key].append(value)  # type: ignore[union-attr]
            else:
                opts[key] = value
        elif arg in BOOL_FLAGS:
            if BOOL_FLAGS[arg]:
                opts[str(BOOL_FLAGS[arg])] = True
        else:
            print(f"pulumi (README test shim): flag {arg!r} of `pulumi {argv[0]}` is not supported here",
                  file=sys.stderr)
            return 2

    from pulumi import automation as auto

    from pulumi_imburse.testing.stacks import project_program

    stack_name = opts.pop("stack", None)
    if stack_name is None:
        stack_name = subprocess.run([REAL, "stack", "--show-name"], check=True, capture_output=True,
                                    text=True).stdout.strip()
    project_name = yaml.safe_load((project / "Pulumi.yaml").read_text(encoding="utf-8"))["name"]
    root = Path(REAL).resolve().parent.parent
    stack = auto.select_stack(stack_name=str(stack_name), project_name=project_name,
                              program=project_program(project),
                              opts=auto.LocalWorkspaceOptions(work_dir=str(project),
                                                              pulumi_command=auto.PulumiCommand(str(root))))
    kwargs = {k: v for k, v in opts.items() if k in ("policy_packs", "policy_pack_configs", "message", "diff")
              and v}
    try:
        if argv[0] == "up":
            if opts.get("refresh"):
                kwargs["refresh"] = True
            stack.up(on_output=lambda line: print(line, end="" if line.endswith("\n") else "\n", flush=True),
                     **kwargs)  # type: ignore[arg-type]
        else:
            if opts.get("refresh"):
                kwargs["refresh"] = True
            stack.preview(on_output=lambda line: print(line, end="" if line.endswith("\n") else "\n", flush=True),
                          **kwargs)  # type: ignore[arg-type]
    except auto.CommandError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
