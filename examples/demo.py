"""`make demo`: start the local Imburse emulator and deploy the root stack (Pulumi.dev.yaml) with the Pulumi CLI.

The root project (Pulumi.yaml, __main__.py, Pulumi.dev.yaml) is deployed by the real `pulumi up` in the
repository root, which runs __main__.py with Pulumi's Python language host (`make pulumi-cli`), driven through
the Automation API with a local file backend and passphrase secrets under .demo/. The emulator's
account credentials reach the provider as IMBURSE_* environment variables, so nothing secret is written
into Pulumi.dev.yaml. It ends with a summary: what changed, the tenants and keys, which outputs are secret,
and how to reveal one.

State lives under .demo/ (the emulator's SQLite file and the stack's backend), so a second run changes
nothing. `make demo DEMO_ARGS="--reveal acme/checkout"` prints one private key; `--reset` starts over.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing.stacks import PulumiCLINotFoundError, cli_env, require_cli

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = Path(os.environ.get("IMBURSE_DEMO_DIR") or REPO / ".demo").resolve()
PROJECT = "imburse-platform"
STACK = "dev"
PORT = 18787  # Pulumi.dev.yaml points imburse:baseUrl here
DEMO_PASSPHRASE = "pulumi-imburse-demo"
"""The dev stack's passphrase: Pulumi.dev.yaml's encryptionsalt was made with it. Local, throwaway state only."""


def open_stack(emu: EmulatorProcess) -> auto.Stack:
    """The root project's dev stack, on the demo's local backend, with the emulator's credentials: a local
    program, run by the Python language host with this interpreter's virtualenv first on PATH (cli_env)."""
    env = {
        **cli_env(DEMO_DIR / "pulumi", DEMO_DIR / "pulumi-home", DEMO_PASSPHRASE),
        # Credentials by environment, the provider's fallback after stack config.
        "IMBURSE_PUBLIC_KEY": emu.public_key,
        "IMBURSE_PRIVATE_KEY": emu.private_key,
    }
    (DEMO_DIR / "pulumi").mkdir(parents=True, exist_ok=True)
    return auto.create_or_select_stack(stack_name=STACK, work_dir=str(REPO),
                                       opts=auto.LocalWorkspaceOptions(env_vars=env))


def mask(secret: str) -> str:
    return f"{'•' * 8} ({len(secret)} chars)" if secret else "(empty: an adopted key's private key is unknowable)"


def print_summary(changes: Mapping[str, int], outputs: Mapping[str, auto.OutputValue]) -> None:
    done = {k: v for k, v in changes.items() if v and k != "same"}
    print("changes: " + (", ".join(f"{k} {v}" for k, v in sorted(done.items())) if done
                         else "none, everything was already up to date"))

    def value(name: str) -> Any:
        return outputs[name].value if name in outputs else {}

    public, roles, private = value("publicKeys"), value("keyRoles"), value("privateKeys")
    for slug, tenant_id in sorted(value("tenantIds").items()):
        print(f"\ntenant {slug}  id {tenant_id}")
        for ref in sorted(r for r in public if r.startswith(f"{slug}/")):
            print(f"  key {ref.split('/', 1)[1]:<12} roles {', '.join(roles.get(ref, []))}")
            print(f"      public  {public[ref]}")
            print(f"      private {mask(private.get(ref, ''))}")
    secret = sorted(name for name, out in outputs.items() if out.secret)
    print(f"\nstack outputs: {', '.join(sorted(outputs))}; secret (encrypted in state): {', '.join(secret) or 'none'}")
    print('reveal a private key:  make demo DEMO_ARGS="--reveal acme/checkout"')
    print(f"or with the CLI:       cd {REPO} && PULUMI_BACKEND_URL={(DEMO_DIR / 'pulumi').as_uri()} "
          f"PULUMI_CONFIG_PASSPHRASE={DEMO_PASSPHRASE} .tools/bin/pulumi stack output privateKeys "
          f"--show-secrets --stack {STACK}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reveal", metavar="TENANT/KEY", help="print one key's private key and exit")
    parser.add_argument("--reset", action="store_true", help="delete .demo/ (emulator data and stack state) first")
    args = parser.parse_args(argv)
    try:
        require_cli()
    except PulumiCLINotFoundError as exc:
        print(f"pulumi-imburse demo: {exc}", file=sys.stderr)
        return 2
    if args.reset and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(exist_ok=True)
    if not args.reveal:
        print(f"pulumi-imburse demo: deploying the root stack with the Pulumi CLI ({shutil.which('pulumi')})")
    with EmulatorProcess(DEMO_DIR / "emulator.db", DEMO_DIR / "credentials.json", port=PORT) as emu:
        stack = open_stack(emu)
        if args.reveal:
            return reveal(stack, args.reveal)
        print(f"emulator: {emu.base_url} (data in {DEMO_DIR / 'emulator.db'})")
        try:
            result = stack.up(on_output=lambda _line: None)
        except auto.CommandError as exc:
            print(f"pulumi up failed:\n{exc}", file=sys.stderr)
            return 1
        print_summary(result.summary.resource_changes or {}, stack.outputs())
    return 0


def reveal(stack: auto.Stack, ref: str) -> int:
    outputs = stack.outputs()
    keys = outputs["privateKeys"].value if "privateKeys" in outputs else {}
    if ref not in keys:
        print(f"no key {ref!r}; known: {', '.join(sorted(keys)) or 'none (run make demo first)'}", file=sys.stderr)
        return 2
    print(keys[ref])
    return 0


if __name__ == "__main__":
    sys.exit(main())
