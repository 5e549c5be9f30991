"""`make demo`: start the local Imburse emulator and deploy the root stack (Pulumi.dev.yaml) against it.

With the Pulumi CLI on PATH the stack is deployed by the CLI, through the Automation API (a local file
backend and the passphrase secrets provider under .demo/). Without it, the same stack runs through
pulumi_imburse.testing.StackRunner, the offline stand-in for the engine. Either way it ends with a
summary: tenants, keys with their roles, public keys, and masked private keys.

State lives under .demo/ (the emulator's SQLite file and the stack state), so a second run changes
nothing. `python examples/demo.py --reveal acme/checkout` prints one private key; `--reset` starts over.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pulumi_imburse.emulator.process import EmulatorProcess

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = Path(os.environ.get("IMBURSE_DEMO_DIR") or REPO / ".demo").resolve()
STACK = "dev"
PORT = 18787  # Pulumi.dev.yaml points imburse:baseUrl here
DEMO_PASSPHRASE = "pulumi-imburse-demo"  # local, throwaway state only


def _env(emu: EmulatorProcess) -> dict[str, str]:
    # Credentials by environment, the provider's fallback after stack config: nothing secret is
    # written into Pulumi.dev.yaml.
    return {
        "IMBURSE_PUBLIC_KEY": emu.public_key,
        "IMBURSE_PRIVATE_KEY": emu.private_key,
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", DEMO_PASSPHRASE),
    }


def deploy_offline(env: Mapping[str, str]) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
    from pulumi_imburse.testing import StackRunner

    os.environ.update(env)
    runner = StackRunner(REPO, stack_name=STACK, state_file=DEMO_DIR / "state" / f"{STACK}.json")
    result = runner.up()
    outputs = {k: v.value for k, v in result.outputs.items()}
    return dict(result.summary.resource_changes), outputs, _tenant_names(runner)


def _tenant_names(runner: Any) -> dict[str, Any]:
    return {r.urn.rsplit("::", 1)[1]: r.outputs.get("name") for r in runner.resources() if r.type.endswith(":Tenant")}


def deploy_with_cli(env: Mapping[str, str]) -> tuple[dict[str, int], dict[str, Any], dict[str, Any]]:
    from pulumi import automation as auto

    backend = DEMO_DIR / "pulumi"
    backend.mkdir(parents=True, exist_ok=True)
    ws_env = {**env, "PULUMI_BACKEND_URL": backend.as_uri(), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    stack = auto.create_or_select_stack(stack_name=STACK, work_dir=str(REPO),
                                        opts=auto.LocalWorkspaceOptions(env_vars=ws_env))
    result = stack.up(on_output=lambda line: None)
    outputs = {k: v.value for k, v in stack.outputs().items()}
    return dict(result.summary.resource_changes or {}), outputs, {}


def mask(secret: str) -> str:
    return f"{'•' * 8} ({len(secret)} chars, secret)" if secret else "(unknown: imported key)"


def print_summary(changes: Mapping[str, int], outputs: Mapping[str, Any], names: Mapping[str, Any],
                  reveal_hint: str) -> None:
    done = {k: v for k, v in changes.items() if v and k != "same"}
    print("changes: " + (", ".join(f"{k} {v}" for k, v in sorted(done.items())) if done
                         else "none, everything was already up to date"))
    public, roles, private = outputs.get("publicKeys", {}), outputs.get("keyRoles", {}), outputs.get("privateKeys", {})
    for slug, tenant_id in sorted(outputs.get("tenantIds", {}).items()):
        print(f"\ntenant {slug}: {names.get(slug) or ''}  id {tenant_id}")
        for ref in sorted(r for r in public if r.startswith(f"{slug}/")):
            print(f"  key {ref.split('/', 1)[1]:<12} roles {', '.join(roles.get(ref, []))}")
            print(f"      public  {public[ref]}")
            print(f"      private {mask(private.get(ref, ''))}")
    print(f"\nreveal a private key: {reveal_hint}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reveal", metavar="TENANT/KEY", help="print one key's private key and exit")
    parser.add_argument("--reset", action="store_true", help="delete .demo/ (emulator data and stack state) first")
    args = parser.parse_args(argv)

    cli = shutil.which("pulumi")
    if args.reset and DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    if not args.reveal:
        print("pulumi-imburse demo: deploying the root stack with the Pulumi CLI (" + cli + ")" if cli else
              "pulumi-imburse demo: the Pulumi CLI is not on PATH, so the root stack runs through "
              "pulumi_imburse.testing.StackRunner (the offline stand-in for the engine)")
    DEMO_DIR.mkdir(exist_ok=True)
    with EmulatorProcess(DEMO_DIR / "emulator.db", DEMO_DIR / "credentials.json", port=PORT) as emu:
        env = _env(emu)
        if args.reveal:
            return reveal(args.reveal, env)
        print(f"emulator: {emu.base_url} (data in {DEMO_DIR / 'emulator.db'})")
        changes, outputs, names = deploy_with_cli(env) if cli else deploy_offline(env)
        hint = (f"PULUMI_BACKEND_URL={(DEMO_DIR / 'pulumi').as_uri()} pulumi stack output privateKeys "
                "--show-secrets" if cli else "python examples/demo.py --reveal acme/checkout")
        print_summary(changes, outputs, names, hint)
    return 0


def reveal(ref: str, env: Mapping[str, str]) -> int:
    from pulumi_imburse.testing import StackRunner

    os.environ.update(env)
    outputs = StackRunner(REPO, stack_name=STACK, state_file=DEMO_DIR / "state" / f"{STACK}.json").outputs()
    keys = outputs["privateKeys"].value if "privateKeys" in outputs else {}
    if ref not in keys:
        print(f"no key {ref!r}; known: {', '.join(sorted(keys)) or 'none (run make demo first)'}", file=sys.stderr)
        return 2
    print(keys[ref])
    return 0


if __name__ == "__main__":
    sys.exit(main())
