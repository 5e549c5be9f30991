"""Make a tenant key outside Pulumi, as the Imburse portal or a script would, to try `pulumi import` on it.

    python3 make_key.py --roles tenant-app-read [--name made-by-hand] [--tenant-id ID]

Uses the account key of the IMBURSE_BASE_URL, IMBURSE_PUBLIC_KEY and IMBURSE_PRIVATE_KEY variables (the local
emulator's, for example) with pulumi_imburse.client; without --tenant-id it first makes a tenant, "Made by hand".
Prints the key's import id, `<tenantId>/<publicKey>`; its private key is not printed (nor imported: Imburse never
shows it again).
"""

from __future__ import annotations

import argparse
import os
import sys

from pulumi_imburse.client import ImburseClient


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--roles", required=True, help="comma-separated tenant roles, e.g. tenant-app-read")
    parser.add_argument("--name", default="made-by-hand", help="the key's name (default made-by-hand)")
    parser.add_argument("--tenant-id", help="an existing tenant (default: a new tenant, 'Made by hand')")
    args = parser.parse_args(argv)
    missing = [v for v in ("IMBURSE_BASE_URL", "IMBURSE_PUBLIC_KEY", "IMBURSE_PRIVATE_KEY") if not os.environ.get(v)]
    if missing:
        print(f"make_key.py: set {', '.join(missing)} (the account key)", file=sys.stderr)
        return 2
    with ImburseClient(os.environ["IMBURSE_BASE_URL"], os.environ["IMBURSE_PUBLIC_KEY"],
                       os.environ["IMBURSE_PRIVATE_KEY"]) as api:
        tenant_id = args.tenant_id or api.create_tenant("Made by hand").tenant_id
        key = api.create_key(tenant_id, [r.strip() for r in args.roles.split(",") if r.strip()], args.name)
    print(f"{tenant_id}/{key.public_key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
