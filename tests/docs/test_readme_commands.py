"""Every shell command in every README runs as written.

The commands are the lines of the ```sh, ```bash, ```shell and ```console blocks (a console block's ``$ ``
lines; the lines after one, up to the next, are the output it shows) of every README in the repository,
found with git (tracked or new, not ignored), so a README added later is covered. Each README runs in its own
sandbox: a copy of the repository (without ignored files), its own ``HOME``, ``PULUMI_HOME`` and local file
backend (``pulumi login`` is never run: it would write the real ``~/.pulumi``), ``.tools/bin`` and
``.venv/bin`` on ``PATH`` as ``make`` gives them, and ``IMBURSE_*`` pointing at the session's emulator.
Commands run in order, each in ``bash`` in the directory and environment the previous ones left (``cd``,
``export``); a command ending in ``&`` runs in the background until the README is done, and must still run
then. Each must exit 0 (or as ``EXPECTED_EXIT`` says, where the README says it fails) and show what the README
shows (``EXPECTED``, and a console block's output).

Placeholders such as ``<account public key>`` are filled from the sandbox (``SCENARIOS``); one the test does
not know fails it. Every ``pulumi`` command is the real CLI with its language hosts (``make pulumi-cli``), in
the project directory as a user runs it, the virtualenv active (first on ``PATH``), answering "yes" where it
asks (``PULUMI_SKIP_CONFIRMATIONS``).

A command that cannot run here is in ``NOT_RUN`` with the reason. Every other command is run, so a command a
README gains runs, or fails the test until it works or is listed with its reason; one with a placeholder the test
cannot fill fails ``test_every_readme_command_is_run_or_listed`` at once (it needs no emulator), and so does an
entry of ``NOT_RUN``, ``EXPECTED`` or ``EXPECTED_EXIT`` that no README has any more.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess

from ..support.locks import fixed_ports

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOOLS_BIN = REPO / ".tools" / "bin"
VENV_BIN = Path(sys.executable).parent
SHELL_LANGS = {"sh", "bash", "shell", "console"}
DEMO_PASSPHRASE = "pulumi-imburse-demo"  # examples/demo.py: the root Pulumi.dev.yaml's encryptionsalt

# ---------------------------------------------------------------------------- what is not run, and why

NETWORK = "installs from the package index (network), which a test must not depend on"
RELEASED = ("installs a release from a registry or GitHub (there is none yet, and a test talks to loopback "
            "only); ")
DIST_FILES = ("run as written by tests/release/test_readme_install.py, from a clone's root after make dist (this "
              "sandbox is a copy without ignored files, so without dist/)")
REAL_SANDBOX = "deploys against the real Imburse sandbox that the stack's imburse:baseUrl names"

CRASH = ("the recovery after a killed update: tests/faults/test_crash_safety.py runs it as written (checked against "
         "this README) after each kill")

NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "pulumi cancel --yes"): CRASH,
    ("README.md", "pulumi up --yes --skip-preview"): CRASH,
    ("README.md", "pulumi refresh --clear-pending-creates --yes"): CRASH,
    ("README.md", "make demo"):
        "covered by tests/stacks/test_demo.py, which runs examples/demo.py (what make demo runs) twice and "
        "--reveal, through the real CLI",
    ("README.md", "make test"):
        "runs the whole suite, this test included; CI runs it (.ci/run)",
    ("README.md", "git clone https://github.com/pulumi-imburse/pulumi-imburse.git && cd pulumi-imburse && make dist"):
        "clones from GitHub (a test talks to loopback only); the sandbox is such a clone, and make dist is what "
        "tests/release's session fixture runs",
    ("README.md", "pulumi plugin install resource imburse v0.1.0 --server github://api.github.com/pulumi-imburse"):
        RELEASED + "tests/release/test_plugin_release.py runs it with --server pointing at dist/ served on loopback "
        "in the release's layout",
    ("README.md", "pulumi plugin install resource imburse v0.1.0 --file "
                  "dist/pulumi-resource-imburse-v0.1.0-linux-amd64.tar.gz"): DIST_FILES,
    ("README.md", "pip install pulumi-imburse"): RELEASED + "the extras are checked to exist",
    ("README.md", 'pip install "pulumi-imburse[emulator]" pulumi_imburse_sdk'):
        RELEASED + "the extras are checked to exist",
    ("README.md", "pip install dist/pulumi_imburse-0.1.0-py3-none-any.whl"): DIST_FILES,
    ("README.md", "pip install dist/pulumi_imburse_sdk-0.1.0-py3-none-any.whl"): DIST_FILES,
    ("README.md", "npm install @pulumi-imburse/imburse"):
        RELEASED + "tests/release/test_artifacts.py installs the npm tarball of dist/ instead",
    ("README.md", "npm install /path/to/dist/pulumi-imburse-imburse-0.1.0.tgz"):
        "tests/release/test_artifacts.py (TypeScript) runs this npm install of dist/'s tarball in a project outside "
        "the checkout (dist/ is not in this sandbox), with the registry's @pulumi/pulumi at the SDK's floor",
    ("README.md", "go get github.com/pulumi-imburse/pulumi-imburse/sdk@v0.1.0"):
        RELEASED + "tests/release/test_artifacts.py (Go) runs this go get against dist/goproxy",
    ("README.md", "GOPROXY=file:///path/to/dist/goproxy,https://proxy.golang.org GONOSUMDB=github.com/pulumi-imburse "
                  "go get github.com/pulumi-imburse/pulumi-imburse/sdk@v0.1.0"):
        "tests/release/test_artifacts.py (Go) runs this go get with GOPROXY=file://<dist>/goproxy,<the Go proxy> "
        "and GONOSUMDB in a module outside the checkout (dist/ is not in this sandbox)",
    ("README.md", "cd dist && tar xzf imburse-guardrails-v0.1.0.tar.gz && cd imburse-guardrails && python3 -m venv "
                  "venv && venv/bin/pip install -r requirements.txt --find-links .."): DIST_FILES,
    ("README.md", "pulumi login --local"):
        "writes the real ~/.pulumi (the CLI takes ~ from the user database, not $HOME); the sandbox's own file "
        "backend (PULUMI_BACKEND_URL) stands for it",
    ("README.md", "pulumi up"): REAL_SANDBOX + " (the quick start sets https://sandbox-api.imbursepayments.com)",
    ("README.md", "cd policy && python3 -m venv venv && venv/bin/pip install -e .. -r requirements.txt && cd .."):
        NETWORK + "; the sandbox gives the pack this interpreter (PULUMI_POLICY_PYTHON), as tests/policy do",
    ("README.md", "pulumi up --policy-pack policy/analyzer --policy-pack-config policy-config.json"):
        REAL_SANDBOX + "; policy/README.md's same command runs against the emulator",
    ("policy/README.md", "cd policy && python3 -m venv venv && venv/bin/pip install -e .. -r requirements.txt"):
        NETWORK + "; the sandbox gives the pack this interpreter (PULUMI_POLICY_PYTHON), as tests/policy do",
    ("examples/gitops/README.md", "python3 -m venv .venv && .venv/bin/pip install -e ."): NETWORK,
    ("examples/gitops/README.md",
     "cd policy && python3 -m venv venv && venv/bin/pip install -e .. -r requirements.txt && cd .."): NETWORK,
    ("examples/gitops/README.md", "pulumi login"):
        "logs in to Pulumi Cloud (interactive, an account); the sandbox's file backend stands for it",
    ("examples/gitops/README.md",
     "pulumi up --stack staging --policy-pack policy/analyzer --policy-pack-config policy-config.staging.json"):
        REAL_SANDBOX + " (Pulumi.staging.yaml); tests/policy/test_gitops_example.py runs it against the emulator",
    ("README.md", "pulumi import imburse:index:TenantKey ci <tenantId>/<publicKey>"):
        REAL_SANDBOX + " (the quick start's stack); tests/plugin/test_plugin_stacks.py and "
        "tests/languages/test_yaml.py run this very command (from a YAML project) against the emulator",
    ("README.md", "pulumi import imburse:index:Tenant acme <tenantId>"):
        "as the TenantKey import above; tests/plugin/test_plugin_stacks.py imports a Tenant by its id with the "
        "import option (the same Read by id)",
    ("benchmarks/README.md", ".venv/bin/python benchmarks/run.py"):
        "the full benchmark: about 6 minutes of a quiet machine",
    ("benchmarks/README.md", ".venv/bin/python benchmarks/run.py --quick"):
        "about a minute, more than this whole test may take",
    ("benchmarks/README.md", ".venv/bin/python benchmarks/run.py --n 400 --latency-ms 50 --parallel 32 --repeat 5"):
        "the largest benchmark: many minutes",
    ("benchmarks/README.md", 'make bench BENCH_ARGS="--quick"'):
        "about a minute, more than this whole test may take",
}

# ---------------------------------------------------------------------------- what the output must show

KEY = r"[A-Za-z0-9+/]{43}="  # a private key as the emulator makes them (32 bytes, base64)

EXPECTED: dict[tuple[str, str] | tuple[str, str, int], str] = {
    ("README.md", "imburse-emulator serve --host 127.0.0.1 --port 0 --db emulator.db --credentials-file creds.json &"):
        r"imburse-emulator: serving http://127\.0\.0\.1:\d+ \(db \S*emulator\.db, credentials \S*creds\.json\)",
    ("README.md", "pulumi preview --policy-pack policy/analyzer"):
        r"(?s)Policies:.*imburse-guardrails.*\+ 6 to create",
    ("policy/README.md", "pulumi up --policy-pack policy/analyzer --policy-pack-config policy-config.json"):
        r"(?s)\[mandatory\]  tenant-key-rotation  \(pulumi-python:dynamic/imburse:TenantKey: acme-checkout\)",
    ("policy/README.md",
     "pulumi policy analyze --stack dev --policy-pack policy/analyzer --policy-pack-config policy-config.json"):
        r"\[mandatory\]  tenants-protected  \(pulumi-python:dynamic/imburse:Tenant: acme\)",
    ("examples/basic/README.md",
     "imburse-emulator serve --port 18787 --db emulator.db --credentials-file creds.json &"):
        r"imburse-emulator: serving http://127\.0\.0\.1:18787 ",
    ("examples/basic/README.md", "pulumi up"): r"(?s)\+ +pulumi-python:dynamic/imburse:TenantKey +checkout.*4 created",
    ("examples/basic/README.md", "pulumi stack output checkoutPrivateKey --show-secrets"): rf"{KEY}\n",
    ("examples/existing-tenant/README.md", "pulumi up", 1): r"TenantKey ops created",
    ("examples/existing-tenant/README.md", "pulumi up", 2): r"warning: TenantKey 'legacy-payments' \(\S+\) adopted",
    ("examples/existing-tenant/README.md", "pulumi up", 3): r"(?s)TenantKey legacy replaced.*1 replaced",
    ("examples/existing-tenant/README.md", "pulumi stack output legacyPrivateKey --show-secrets"): rf"{KEY}\n",
}

EXPECTED_EXIT: dict[tuple[str, str], tuple[int, str]] = {
    ("policy/README.md", "pulumi up --policy-pack policy/analyzer --policy-pack-config policy-config.json"): (
        1, "the README's example config makes tenant-key-rotation mandatory at 30 days; the root stack's "
           "acme/checkout rotates every 90: 'A mandatory violation fails the command'"),
    ("policy/README.md",
     "pulumi policy analyze --stack dev --policy-pack policy/analyzer --policy-pack-config policy-config.json"): (
        1, "the same config makes tenants-protected mandatory, and the root stack's tenants are not protected: "
             "'it exits non-zero on a mandatory violation'"),
}
"""Commands that, with the input the README gives them, do what the README says they do: fail. Every other
command must exit 0."""

"""A regular expression that stdout + stderr of (README, command) must contain; (README, command, n) for the n-th
time the README runs that command, else it applies to every time."""


# ---------------------------------------------------------------------------- reading the READMEs


@dataclasses.dataclass(frozen=True)
class Command:
    """One command of a README: its text without comments, as the README writes it, and any output shown."""

    readme: str
    text: str
    line: int
    output: tuple[str, ...] | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.readme, self.text)


def readmes() -> list[str]:
    """Every README*.md the repository has (tracked, or new and not ignored), relative to the root."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                         check=True, capture_output=True, text=True).stdout
    return sorted(p for p in set(out.split("\0")) if p and re.fullmatch(r"(?i)readme[^/]*\.md", Path(p).name)
                  and "node_modules" not in Path(p).parts and (REPO / p).is_file())


def _strip_comment(line: str) -> str:
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def commands(readme: str) -> list[Command]:
    """The shell commands of ``readme``, in order."""
    found: list[Command] = []
    lang: str | None = None
    pending = ""
    start = 0
    output: list[str] | None = None
    for number, raw in enumerate((REPO / readme).read_text(encoding="utf-8").splitlines(), start=1):
        fence = re.match(r"^\s*```+\s*([\w+-]*)", raw)
        if fence:
            if lang is None:
                lang = fence.group(1).lower() or ""
            else:
                if output is not None and found:
                    found[-1] = dataclasses.replace(found[-1], output=tuple(output))
                lang, output, pending = None, None, ""
            continue
        if lang not in SHELL_LANGS:
            continue
        if lang == "console":
            if raw.startswith("$ "):
                if output is not None and found:
                    found[-1] = dataclasses.replace(found[-1], output=tuple(output))
                found.append(Command(readme, _strip_comment(raw[2:]), number))
                output = []
            elif output is not None:
                output.append(raw.rstrip())
            continue
        text = _strip_comment(raw) if not pending else raw.strip()
        if not pending:
            start = number
        if text.endswith("\\"):
            pending += text[:-1].rstrip() + " "
            continue
        text = " ".join((pending + text).split())
        pending = ""
        if text:
            found.append(Command(readme, text, start))
    return found


# ---------------------------------------------------------------------------- sandboxes


@dataclasses.dataclass
class Sandbox:
    """A copy of the repository where one README's commands run."""

    root: Path
    env: dict[str, str]
    emulator: EmulatorProcess
    cwd: Path
    background: list[subprocess.Popen[str]] = dataclasses.field(default_factory=list)
    values: dict[str, str] = dataclasses.field(default_factory=dict)

    def cli(self, *args: str, cwd: Path | None = None) -> str:
        """The real CLI, for a scenario's set-up (not a README command)."""
        result = subprocess.run([str(TOOLS_BIN / "pulumi"), *args], cwd=cwd or self.cwd, env=self.env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, f"set-up `pulumi {' '.join(args)}` failed: {result.stderr}"
        return result.stdout

    def creds(self, name: str = "creds.json") -> dict[str, str]:
        """The credentials file an emulator started by the README wrote (relative to the sandbox root)."""
        data: dict[str, str] = json.loads((self.root / name).read_text(encoding="utf-8"))
        return data


def _copy_repo(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    for rel in sorted(set(listed.split("\0"))):
        if not rel or "node_modules" in Path(rel).parts:
            continue
        src, dst = REPO / rel, dest / rel
        if not src.is_symlink() and not src.exists():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """How a README is run: where it starts, what a reader has already done, and its placeholders."""

    cwd: str = "."
    passphrase: str = DEMO_PASSPHRASE
    """The root Pulumi.dev.yaml carries the salt of the demo's passphrase."""
    setup: Callable[[Sandbox], None] | None = None
    placeholders: dict[str, Callable[[Sandbox], str]] = dataclasses.field(default_factory=dict)


def _emulator_account(key: str) -> Callable[[Sandbox], str]:
    return lambda s: {"publicKey": s.emulator.public_key, "privateKey": s.emulator.private_key}[key]


def _started_account(key: str) -> Callable[[Sandbox], str]:
    return lambda s: s.creds()[key]


def _policy_stack(s: Sandbox) -> None:
    # A reader "in a Pulumi project of this repository" (the root) with a stack deployed against Imburse (here
    # the emulator), and the config file the README shows (its ```json block) as policy-config.json.
    s.cli("stack", "init", "dev")
    s.cli("config", "set", "imburse:baseUrl", s.emulator.base_url)
    s.cli("up", "--yes")
    text = (s.root / "policy" / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block, "policy/README.md shows no policy config file"
    (s.root / "policy-config.json").write_text(block.group(1), encoding="utf-8")


def _existing_tenant(s: Sandbox) -> None:
    # A stack of the example against Imburse (here the emulator, not the port its Pulumi.dev.yaml names), and
    # a tenant with a key made elsewhere (the portal, another stack).
    s.cli("stack", "init", "dev")
    s.cli("config", "set", "imburse:baseUrl", s.emulator.base_url)
    with ImburseClient(s.emulator.base_url, s.emulator.public_key, s.emulator.private_key) as api:
        tenant = api.create_tenant("README existing tenant")
        key = api.create_key(tenant.tenant_id, ["tenant-transaction-read"], "legacy-payments")
    s.values.update({"tenant": tenant.tenant_id, "key": key.public_key, "name": key.name})


def _node_workspace(s: Sandbox) -> None:
    # A reader of this repository who ran `make node`: the npm workspace's packages installed (node_modules, from
    # the registry, which a test must not depend on) and the SDK compiled; Node resolves them as in the checkout.
    assert (REPO / "node_modules").is_dir(), "node_modules is missing: run `make node`"
    (s.root / "node_modules").symlink_to(REPO / "node_modules", target_is_directory=True)


SCENARIOS: dict[str, Scenario] = {
    "README.md": Scenario(placeholders={
        "<account public key>": _emulator_account("publicKey"),
        "<account private key>": _emulator_account("privateKey")}),
    "examples/basic/README.md": Scenario(placeholders={
        "<account public key>": _started_account("publicKey"),
        "<account private key>": _started_account("privateKey")}),
    "examples/existing-tenant/README.md": Scenario(cwd="examples/existing-tenant", setup=_existing_tenant,
                                                   placeholders={
        "<existing tenant id>": lambda s: s.values["tenant"],
        "<publicKey of the existing key>": lambda s: s.values["key"],
        "<its current name>": lambda s: s.values["name"]}),
    "policy/README.md": Scenario(setup=_policy_stack),
    "examples/typescript/README.md": Scenario(cwd="examples/typescript", setup=_node_workspace),
    "examples/yaml/README.md": Scenario(cwd="examples/yaml"),
    "examples/go/README.md": Scenario(cwd="examples/go"),
}
"""Every README not named here runs from the sandbox root, with a file backend, with no placeholders."""


def _placeholders(command: Command) -> list[str]:
    return re.findall(r"<[^<>|]+>", command.text)


# ---------------------------------------------------------------------------- running


@dataclasses.dataclass
class Ran:
    command: Command
    returncode: int
    output: str


def _run(s: Sandbox, command: Command, text: str) -> Ran:
    state = s.root / ".readme-test-state"
    state.mkdir(exist_ok=True)
    if text.endswith("&"):
        proc = subprocess.Popen(["bash", "-c", "exec " + text[:-1].rstrip()], cwd=s.cwd, env=s.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        s.background.append(proc)
        assert proc.stdout is not None
        first = proc.stdout.readline()  # a background service is ready once it says so
        lines = [first]
        threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True).start()
        return Ran(command, 0 if first else proc.wait(timeout=10), first)
    script = (f"{text}\n__rc=$?\npwd > {state}/cwd\nenv -0 > {state}/env\nexit $__rc\n")
    result = subprocess.run(["bash", "-c", script], cwd=s.cwd, env=s.env, capture_output=True, text=True,
                            timeout=240, check=False)
    if (state / "cwd").exists():
        s.cwd = Path((state / "cwd").read_text().strip())
        s.env = dict(item.split("=", 1) for item in (state / "env").read_text().split("\0") if "=" in item)
        for name in ("cwd", "env"):
            (state / name).unlink()
    return Ran(command, result.returncode, result.stdout + result.stderr)


def _binds_fixed_port(readme: str) -> bool:
    """Whether a command of ``readme`` starts a service on a fixed port (``--port`` other than 0)."""
    return any(re.search(r"--port [1-9]", c.text) for c in commands(readme) if c.key not in NOT_RUN)


@pytest.fixture
def sandbox(tmp_path: Path, emulator: EmulatorProcess) -> Iterator[Callable[[str], Sandbox]]:
    made: list[Sandbox] = []
    locks = contextlib.ExitStack()

    def make(readme: str) -> Sandbox:
        scenario = SCENARIOS.get(readme, Scenario())
        if _binds_fixed_port(readme):
            locks.enter_context(fixed_ports())  # until its background services are stopped
        root = tmp_path / "repo"
        _copy_repo(root)
        # A reader's checkout has its virtualenv (`make .venv/.installed`), which the projects' `virtualenv:`
        # options name: this interpreter's.
        (root / ".venv").symlink_to(VENV_BIN.parent, target_is_directory=True)
        home = tmp_path / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IMBURSE_", "PULUMI_", "VIRTUAL_ENV"))}
        env.update({
            "HOME": str(home), "PULUMI_HOME": str(home / ".pulumi"),
            "PATH": os.pathsep.join([str(TOOLS_BIN), str(VENV_BIN), env.get("PATH", "")]),
            "PULUMI_CONFIG_PASSPHRASE": scenario.passphrase, "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true", "PULUMI_PYTHON_CMD": sys.executable,
            "PULUMI_POLICY_PYTHON": sys.executable,
            # The reader answers "yes" when `pulumi up` asks (the CLI asks only at a terminal).
            "PULUMI_SKIP_CONFIRMATIONS": "true",
            "IMBURSE_PUBLIC_KEY": emulator.public_key, "IMBURSE_PRIVATE_KEY": emulator.private_key,
        })
        if shutil.which("go"):  # the reader's Go caches (HOME is the sandbox's): no download, no cold build
            for name in ("GOCACHE", "GOMODCACHE"):
                env[name] = subprocess.run(["go", "env", name], check=True, capture_output=True,
                                           text=True).stdout.strip()
        backend = tmp_path / "backend"  # a reader logged in to a backend: never the real ~/.pulumi
        backend.mkdir()
        env["PULUMI_BACKEND_URL"] = backend.as_uri()
        box = Sandbox(root=root, env=env, emulator=emulator, cwd=root / scenario.cwd)
        made.append(box)
        if scenario.setup:
            scenario.setup(box)
        return box

    with locks:
        yield make
        for box in made:
            for proc in box.background:
                proc.terminate()
                proc.wait(timeout=10)


# ---------------------------------------------------------------------------- the tests


def test_every_readme_command_is_run_or_listed() -> None:
    """Each command is run (with every placeholder known) or listed in NOT_RUN; each NOT_RUN entry exists."""
    found = {c.key: c for readme in readmes() for c in commands(readme)}
    assert found, "no README command found"
    stale = sorted(set(NOT_RUN) - set(found))
    assert not stale, f"NOT_RUN lists commands no README has any more (remove or update them): {stale}"
    gone = sorted(str(k) for k in [*EXPECTED, *EXPECTED_EXIT] if (k[0], k[1]) not in found)
    assert not gone, f"EXPECTED names commands no README has any more: {gone}"
    unknown = [f"{c.readme}:{c.line}: {p!r} in `{c.text}`" for c in found.values() if c.key not in NOT_RUN
               for p in _placeholders(c) if p not in SCENARIOS.get(c.readme, Scenario()).placeholders]
    assert not unknown, ("placeholders the README test cannot fill (add them to SCENARIOS, or list the command "
                         f"in NOT_RUN with the reason): {unknown}")


def test_readmes_are_found_without_ignored_or_vendored_files() -> None:
    found = readmes()
    assert {"README.md", "policy/README.md", "examples/basic/README.md", "benchmarks/README.md"} <= set(found)
    assert not [p for p in found if p.startswith(("policy/venv/", ".venv/", ".pytest_cache/"))]


def test_command_blocks_say_they_are_commands() -> None:
    """A fenced block of commands without a language tag would escape this test: it must be tagged."""
    untagged = []
    for readme in readmes():
        in_block = False
        for number, raw in enumerate((REPO / readme).read_text(encoding="utf-8").splitlines(), start=1):
            fence = re.match(r"^\s*```+\s*([\w+-]*)", raw)
            if fence:
                in_block = not in_block
                tagged = bool(fence.group(1))
                continue
            if in_block and not tagged and re.match(r"^\s*(\$ |make |pulumi |python3? |pip |cd |\.venv/)", raw):
                untagged.append(f"{readme}:{number}: {raw.strip()}")
    assert not untagged, f"commands in a fenced block without ```sh: {untagged}"


def test_pip_extras_the_readme_names_exist() -> None:
    # What pip reads: the extras of the installed (editable) package, built from pyproject.toml.
    extras = set(importlib.metadata.metadata("pulumi-imburse").get_all("Provides-Extra") or [])
    named = {e for c in commands("README.md") if c.text.startswith("pip install")
             for e in re.findall(r"\[(\w+)\]", c.text)}
    assert named and named <= extras


@pytest.mark.parametrize("readme", readmes())
def test_readme_commands_run_as_written(readme: str, sandbox: Callable[[str], Sandbox]) -> None:
    todo = [c for c in commands(readme) if c.key not in NOT_RUN]
    if not todo:
        assert all(c.key in NOT_RUN for c in commands(readme))
        return
    box = sandbox(readme)
    scenario = SCENARIOS.get(readme, Scenario())
    seen: dict[str, int] = {}
    for command in todo:
        seen[command.text] = seen.get(command.text, 0) + 1
        text = command.text
        for placeholder in _placeholders(command):
            text = text.replace(placeholder, scenario.placeholders[placeholder](box))
        ran = _run(box, command, text)
        if os.environ.get("README_TEST_VERBOSE"):
            print(f"\n$ {text}\n{ran.output}")
        where = f"{readme}:{command.line}: `{command.text}`"
        code = EXPECTED_EXIT.get(command.key, (0, ""))[0]
        assert ran.returncode == code, f"{where} exited {ran.returncode}, not {code}:\n{ran.output[-3000:]}"
        pattern = EXPECTED.get((readme, command.text, seen[command.text]), EXPECTED.get(command.key))
        if pattern is not None:
            assert re.search(pattern, ran.output), f"{where} does not show {pattern!r}:\n{ran.output[-3000:]}"
        if command.output is not None:
            assert _matches(ran.output, command.output), (
                f"{where} shows\n{ran.output}\nbut the README shows\n" + "\n".join(command.output))
    stopped = [(p.args, p.returncode) for p in box.background if p.poll() is not None]
    assert not stopped, f"a service the README started in the background has stopped: {stopped}"


def _matches(output: str, shown: tuple[str, ...]) -> bool:
    """The README's output, line by line (``...`` stands for any lines), trailing blanks ignored."""
    pattern = "\n".join(".*?" if line.strip() == "..." else re.escape(line.rstrip()) for line in shown).strip()
    got = "\n".join(line.rstrip() for line in output.splitlines()).strip()
    return re.fullmatch(pattern, got, re.S) is not None
