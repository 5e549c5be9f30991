"""Run a Pulumi stack that uses Imburse resources offline: the real Pulumi CLI, the local emulator.

:func:`emulated_stack` starts an :class:`~pulumi_imburse.emulator.process.EmulatorProcess` (or uses yours),
makes a Pulumi Automation API stack with a local file backend and passphrase secrets in a temporary directory,
wires the ``imburse:*`` provider config to the emulator, and hands you the stack. Everything else is the real
thing: ``stack.up()`` runs the Pulumi CLI, which runs your program and the Imburse dynamic providers.

The program is either a Python function (an Automation API inline program, run in this process) or a project
directory (``Pulumi.yaml``, its program and, if present, ``Pulumi.<stack>.yaml``). A directory is copied, so
config set by the test never touches your files, and ``stack.up()`` has the CLI run the copy's program with
its runtime's language host, as ``pulumi up`` in the directory does: ``pulumi-language-python`` (with this
interpreter: first on ``PATH``, and ``PULUMI_PYTHON_CMD``; the copy's ``virtualenv`` option is dropped),
``-nodejs`` (finding the project's ``node_modules``), ``-go``, ``-yaml``. A Python project runs as an inline
program instead with ``inline=True``, or where no ``pulumi-language-python`` is on ``PATH``. The dynamic
providers run in ``python -m pulumi.dynamic`` with this interpreter.

The ``pulumi`` CLI must be on ``PATH`` (or given as ``pulumi_command``), with the
``pulumi-resource-pulumi-python`` launcher that Pulumi ships beside it (``make pulumi-cli`` provides both and
the language hosts).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import runpy
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from pulumi import automation as auto

from ..client import ImburseClient
from ..config import NAMESPACE
from ..emulator.process import EmulatorProcess

DEFAULT_PASSPHRASE = "pulumi-imburse-test"
"""The passphrase of the throwaway secrets provider of a test stack."""

_COPY_IGNORE = shutil.ignore_patterns(".git", ".venv", "venv", ".tools", ".demo", "__pycache__", ".pulumi", "*_cache",
                                      "node_modules", "*.pyc")
_STACK_ENCRYPTION_KEYS = ("encryptionsalt", "encryptedkey", "secretsprovider")
_EMULATOR_CONFIG = (f"{NAMESPACE}:baseUrl", f"{NAMESPACE}:publicKey", f"{NAMESPACE}:privateKey")
"""The provider config that :func:`emulated_stack` points at the emulator."""


class PulumiCLINotFoundError(RuntimeError):
    """No ``pulumi`` CLI on ``PATH``."""


@dataclass
class EmulatedStack:
    """A Pulumi stack wired to an Imburse emulator, as made by :func:`emulated_stack`."""

    stack: auto.Stack
    """The Automation API stack: ``up()``, ``preview()``, ``refresh()``, ``destroy()``, ``export_stack()``..."""
    emulator: EmulatorProcess
    """The emulator the stack's ``imburse:*`` config points at."""
    work_dir: Path
    """The stack's project directory (a copy, for a project given by path)."""
    backend_dir: Path
    """The local file backend holding the stack's state (``file://`` URL in ``env["PULUMI_BACKEND_URL"]``)."""
    env: dict[str, str]
    """The environment the CLI runs with (backend, passphrase, Pulumi home, Python command)."""

    def account_client(self) -> ImburseClient:
        """An :class:`~pulumi_imburse.client.ImburseClient` with the emulator's account key, to inspect results."""
        return ImburseClient(self.emulator.base_url, self.emulator.public_key, self.emulator.private_key)

    def set_config(self, config: Mapping[str, Any], *, secret: bool = False) -> None:
        """Set stack config; keys without a ``project:`` namespace get the project's. Values may be objects."""
        set_config(self.stack, config, secret=secret)


def project_program(project_dir: str | os.PathLike[str]) -> auto.PulumiFn:
    """An inline program that runs ``project_dir``'s ``__main__.py`` (or the ``main`` of its ``Pulumi.yaml``)."""
    root = Path(project_dir).resolve()
    settings = _project_settings(root)
    main = root / str(settings.get("main") or "")

    def program() -> None:
        # runpy puts the program's directory first on sys.path while it runs, so local imports work.
        runpy.run_path(str(main), run_name="__main__")

    return program


def cli_env(backend_dir: Path, pulumi_home: Path, passphrase: str) -> dict[str, str]:
    """The environment of a hermetic CLI run: a local file backend, passphrase secrets, its own Pulumi home (and
    the provider's create journal in it, :mod:`pulumi_imburse.journal`), no update check, no plugin downloads,
    this interpreter for the dynamic providers, and this interpreter's scripts directory first on ``PATH``, where
    the engine finds the ``pulumi-resource-imburse`` plugin."""
    scripts = str(Path(sys.executable).parent)  # a virtualenv's bin/, not resolved past its python symlink
    return {
        "PATH": os.pathsep.join([scripts, os.environ.get("PATH", "")]),
        "PULUMI_BACKEND_URL": backend_dir.as_uri(),
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_HOME": str(pulumi_home),
        "IMBURSE_JOURNAL": str(pulumi_home / "imburse" / "journal.db"),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_PYTHON_CMD": sys.executable,
    }


def require_cli() -> None:
    """Raise :class:`PulumiCLINotFoundError` unless a ``pulumi`` CLI is on ``PATH``."""
    if shutil.which("pulumi") is None:
        raise PulumiCLINotFoundError(
            "the Pulumi CLI is not on PATH: install Pulumi (https://www.pulumi.com/docs/iac/download-install/), "
            "or in a pulumi-imburse checkout run `make pulumi-cli` and put .tools/bin on PATH")


def set_config(stack: auto.Stack, config: Mapping[str, Any], *, secret: bool = False) -> None:
    """Set ``config`` on ``stack`` in one CLI call; object values become structured config."""
    project = stack.workspace.project_settings().name
    entries: dict[str, dict[str, Any]] = {}
    for key, value in config.items():
        full = key if ":" in key else f"{project}:{key}"
        entry: dict[str, Any] = {"secret": secret}
        if isinstance(value, str):
            entry["value"] = value
        else:
            entry["value"] = json.dumps(value)
            entry["objectValue"] = value
        entries[full] = entry
    if entries:
        stack.set_all_config_json(json.dumps(entries))


@contextlib.contextmanager
def emulated_stack(
    program: auto.PulumiFn | str | os.PathLike[str],
    *,
    stack_name: str = "test",
    project_name: str | None = None,
    config: Mapping[str, Any] | None = None,
    secret_config: Mapping[str, Any] | None = None,
    emulator: EmulatorProcess | None = None,
    passphrase: str = DEFAULT_PASSPHRASE,
    env: Mapping[str, str] | None = None,
    pulumi_command: auto.PulumiCommand | None = None,
    destroy_on_exit: bool = True,
    inline: bool | None = None,
) -> Iterator[EmulatedStack]:
    """A stack of ``program`` against the Imburse emulator, with a throwaway local backend.

    :param program: a function (inline program) or a project directory to copy and run (a Python project
        as an inline program, any other runtime as a local program of the copy).
    :param stack_name: the stack's name; a project's ``Pulumi.<stack_name>.yaml`` is used if present.
    :param project_name: required for a function; a directory's comes from its ``Pulumi.yaml``.
    :param config: stack config (``key`` or ``namespace:key``); dicts and lists become structured config.
    :param secret_config: stack config set as secrets.
    :param emulator: an emulator to use; by default one is started (temporary db) and stopped at exit.
    :param passphrase: the stack's secrets passphrase.
    :param env: more environment for the CLI and the providers.
    :param pulumi_command: the CLI to run; by default ``pulumi`` on ``PATH``.
    :param destroy_on_exit: destroy what is left in the stack at exit (best effort), so a shared emulator
        does not collect tenants and keys from failed tests.
    :param inline: for a Python project directory: ``True`` runs its program as an inline program in this
        process, ``False`` with the Python language host (``pulumi up`` in the copy, as a user runs it). By
        default the language host when ``pulumi-language-python`` is on ``PATH``, else inline.
    :raises PulumiCLINotFoundError: no CLI given and none on ``PATH``.
    """
    if pulumi_command is None:
        require_cli()
    with contextlib.ExitStack() as resources:
        emu = emulator or resources.enter_context(EmulatorProcess())
        tmp = Path(resources.enter_context(tempfile.TemporaryDirectory(prefix="imburse-stack-")))
        work_dir, backend, home = tmp / "project", tmp / "backend", tmp / "home"
        backend.mkdir()
        fn: auto.PulumiFn | None
        kept_secrets: list[str] = []
        origin = ""  # the user's stack file, for messages
        if callable(program):
            if not project_name:
                raise ValueError("project_name is required with an inline program")
            work_dir.mkdir()
            fn = program
        else:
            shutil.copytree(Path(program), work_dir, ignore=_COPY_IGNORE)
            settings = _project_settings(work_dir)
            project_name = project_name or str(settings["name"])
            stack_file = work_dir / f"Pulumi.{stack_name}.yaml"
            origin = str(Path(program) / stack_file.name)
            kept_secrets = _use_own_secrets(stack_file, overridden={
                key if ":" in key else f"{settings['name']}:{key}"
                for key in (*_EMULATOR_CONFIG, *(config or {}), *(secret_config or {}))})
            fn = None
            runtime = _runtime(settings)
            if runtime == "python":
                _use_this_interpreter(work_dir)
                fn = None if _python_host(inline, env) else project_program(work_dir)
            elif runtime == "nodejs":
                _link_node_modules(Path(program), work_dir)
            elif runtime == "go":
                _absolute_go_replaces(Path(program), work_dir)
        run_env = {**cli_env(backend, home, passphrase), **(env or {})}
        ws_opts = auto.LocalWorkspaceOptions(work_dir=str(work_dir), env_vars=run_env, pulumi_command=pulumi_command)
        try:
            if fn is None:
                stack = auto.create_or_select_stack(stack_name=stack_name, work_dir=str(work_dir), opts=ws_opts)
            else:
                stack = auto.create_or_select_stack(stack_name=stack_name, project_name=project_name, program=fn,
                                                    opts=ws_opts)
        except auto.CommandError as exc:
            if kept_secrets and "incorrect passphrase" in str(exc):
                raise ValueError(
                    f"{origin} holds secrets ({', '.join(kept_secrets)}) encrypted "
                    "with another passphrase than this stack's: pass that stack's passphrase= (or set "
                    "PULUMI_CONFIG_PASSPHRASE in env=), or give those keys in secret_config=") from None
            raise
        if fn is not None:
            _retry_lost_monitor(stack)
        base_url, public_key, private_key = _EMULATOR_CONFIG
        set_config(stack, {base_url: emu.base_url, public_key: emu.public_key, **(config or {})})
        set_config(stack, {private_key: emu.private_key, **(secret_config or {})}, secret=True)
        try:
            yield EmulatedStack(stack=stack, emulator=emu, work_dir=work_dir, backend_dir=backend, env=run_env)
        finally:
            if destroy_on_exit:
                with contextlib.suppress(auto.CommandError):
                    stack.destroy(on_output=lambda _line: None)


LOST_MONITOR: Final = "Resource monitor has terminated, shutting down"
"""What an inline program prints when its gRPC channel to the engine's resource monitor fails (UNAVAILABLE)."""


def _retry_lost_monitor(stack: auto.Stack) -> None:
    """Have ``stack``'s operations run once more when an inline program lost its channel to the engine.

    An inline program runs in this process, which runs many of them (a test session): now and then (1 run in
    about 1,500 in this project's suite, on a loaded machine) one fails within a second of starting with only
    ``Resource monitor has terminated, shutting down`` from the program and no error from the engine or any
    provider: a failure of Pulumi's in-process Automation API runtime (pulumi/pulumi#8633 reports the same message
    after earlier runs in one process), not of the stack. A program run by a language host, in its own process,
    does not meet it. The operation is run once more when it fails so and its output holds no other error: each
    is one a user may repeat (the engine converges). A second failure is raised.
    """
    for name in ("up", "preview", "refresh", "destroy"):
        operation = getattr(stack, name)

        def once_more(*args: Any, _operation: Any = operation, **kwargs: Any) -> Any:
            try:
                return _operation(*args, **kwargs)
            except auto.CommandError as exc:
                text = str(exc)
                errors = [line for line in text.splitlines() if "error:" in line and LOST_MONITOR not in line]
                if LOST_MONITOR not in text or errors:
                    raise
                print(f"emulated_stack: {LOST_MONITOR!r} from the inline program and no other error: "
                      "running the operation once more", file=sys.stderr)
                return _operation(*args, **kwargs)

        setattr(stack, name, once_more)


def _use_own_secrets(stack_file: Path, overridden: set[str]) -> list[str]:
    """Let the copied stack file take the test stack's own passphrase secrets provider.

    A stack file carries the salt (or key) of the secrets provider it was made with, and its ``secure:`` values
    are encrypted with it: a user's own stack after ``pulumi config set --secret imburse:privateKey ...``, say.
    The encrypted values of keys this stack sets itself (``overridden``: the ``imburse:*`` credentials of the
    emulator, the test's ``config`` and ``secret_config``) are dropped. With no encrypted value left, the salt
    only ties the copy to a passphrase the test does not know, so it is dropped too. Encrypted values of other
    keys are kept, with their salt: give ``emulated_stack`` their ``passphrase``. Returns those keys.
    """
    if not stack_file.is_file():
        return []
    settings = yaml.safe_load(stack_file.read_text()) or {}
    if not isinstance(settings, dict):
        return []
    config = settings.get("config")
    config = config if isinstance(config, dict) else {}
    dropped = [k for k, v in config.items() if k in overridden and _has_secure_value(v)]
    for key in dropped:
        del config[key]
    kept = sorted(k for k, v in config.items() if _has_secure_value(v))
    if not kept:
        dropped += [key for key in _STACK_ENCRYPTION_KEYS if settings.pop(key, None) is not None]
    if dropped:
        stack_file.write_text(yaml.safe_dump(settings, sort_keys=False))
    return kept


def _python_host(inline: bool | None, env: Mapping[str, str] | None) -> bool:
    """Whether a Python project runs with ``pulumi-language-python`` (a local program) rather than inline."""
    if inline is not None:
        return not inline
    path = (env or {}).get("PATH") or os.environ.get("PATH")
    return shutil.which("pulumi-language-python", path=path) is not None


def _use_this_interpreter(work_dir: Path) -> None:
    """Drop the copied Python project's ``virtualenv`` and ``toolchain`` runtime options: the program and its
    dynamic providers run with this interpreter (first on ``PATH``, and ``PULUMI_PYTHON_CMD``), as an inline
    program does, and a relative ``virtualenv`` would not resolve from the copy anyway."""
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = work_dir / name
        if not path.is_file():
            continue
        settings = yaml.safe_load(path.read_text()) or {}
        runtime = settings.get("runtime") if isinstance(settings, dict) else None
        options = runtime.get("options") if isinstance(runtime, dict) else None
        if isinstance(options, dict) and {"virtualenv", "toolchain"} & set(options):
            for key in ("virtualenv", "toolchain"):
                options.pop(key, None)
            path.write_text(yaml.safe_dump(settings, sort_keys=False))
        return


def _link_node_modules(project_dir: Path, work_dir: Path) -> None:
    """Link the ``node_modules`` that Node.js would find from the original project (its own, or the nearest
    parent's, as in an npm workspace) into the copy, which is not copied with it."""
    for directory in (project_dir.resolve(), *project_dir.resolve().parents):
        if (directory / "node_modules").is_dir():
            (work_dir / "node_modules").symlink_to(directory / "node_modules", target_is_directory=True)
            return


def _absolute_go_replaces(project_dir: Path, work_dir: Path) -> None:
    """Make the copy's ``go.mod`` ``replace`` directives that name a relative directory absolute (resolved from
    the original project), so the copy builds against the same modules."""
    go_mod = work_dir / "go.mod"
    if not go_mod.is_file():
        return
    text = go_mod.read_text()

    def absolute(match: re.Match[str]) -> str:
        return f"{match.group(1)}{(project_dir / match.group(2)).resolve()}"

    go_mod.write_text(re.sub(r"(=>\s*)(\.\.?/\S*)", absolute, text))


def _has_secure_value(value: Any) -> bool:
    if isinstance(value, dict):
        return "secure" in value or any(_has_secure_value(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_secure_value(v) for v in value)
    return False


def _runtime(settings: Mapping[str, Any]) -> str:
    """The runtime name of a project's settings (``runtime: python`` or ``runtime: {name: python, ...}``)."""
    runtime = settings.get("runtime")
    return str(runtime.get("name") if isinstance(runtime, dict) else runtime)


def _project_settings(project_dir: Path) -> dict[str, Any]:
    for name in ("Pulumi.yaml", "Pulumi.yml"):
        path = project_dir / name
        if path.is_file():
            settings = yaml.safe_load(path.read_text()) or {}
            if not isinstance(settings, dict) or not settings.get("name"):
                raise ValueError(f"{path}: not a Pulumi project file (no name)")
            main = settings.get("main") or "__main__.py"
            settings["main"] = main if str(main).endswith(".py") else f"{main}/__main__.py"
            return settings
    raise FileNotFoundError(f"{project_dir}: no Pulumi.yaml")
