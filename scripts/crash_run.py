#!/usr/bin/env python3
"""``make crash-run``: kill -9 a process of a 50-key ``pulumi up`` at random moments, run the README's recovery
("If an update is interrupted") after each, and print what is left (issue 17, "Never lose track of a key").

    python scripts/crash_run.py                  # 20 kills across plugin, dynamic host and CLI, seed 1
    python scripts/crash_run.py --kills 6 --seed 7

Each kill is :func:`tests.faults.crash.run_once`: a fresh tenant and stack, the kill at a random moment while the
keys are being made (after 1 to 45 key creates reached the emulator, then 0 to 0.6 s), then ``pulumi cancel``,
``pulumi up``, ``pulumi refresh --clear-pending-creates``. Printed per kill and in total: kills per target, keys
live and in state, orphans (live, not in state), duplicate names, pending operations, state keys the service lacks,
provider processes of a killed CLI still running after 15 s and how long they took to exit, and the time. Exits 1
if any kill left something.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pulumi_imburse.client import ImburseClient  # noqa: E402
from pulumi_imburse.emulator.process import EmulatorProcess  # noqa: E402
from tests.faults import crash  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--count", type=int, default=50, help="keys per stack")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    outcomes = []
    started = time.monotonic()
    with EmulatorProcess(latency_ms=crash.LATENCY_MS) as emu, ImburseClient(
            emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as api:
        for i in range(args.kills):
            target = crash.TARGETS[i % len(crash.TARGETS)]
            o = crash.run_once(emu, api, target, rng, count=args.count)
            outcomes.append(o)
            print(f"kill {i + 1:2}/{args.kills} {target:7} after {o.after_creates:2} creates + {o.delay_s:4.2f} s "
                  f"(killed: {o.killed}): "
                  f"{o.keys} live, {o.in_state} in state, {len(o.orphans)} orphans, {len(o.duplicates)} duplicate "
                  f"names, {o.pending} pending, {len(o.missing)} missing, {len(o.survivors)} survivors"
                  + (f", exited in {o.gone_s} s" if o.gone_s is not None else "") + f"; {o.seconds} s", flush=True)
            if not o.clean:
                print(json.dumps(o.summary(), indent=1), o.log[-4000:], sep="\n", flush=True)
    killed = [o for o in outcomes if o.killed]
    gone = [o.gone_s for o in killed if o.gone_s is not None]
    total = {
        "seed": args.seed,
        "kills": len(killed), "kills_per_target": dict(Counter(o.target for o in killed)),
        "ups_that_ended_before_the_kill": len(outcomes) - len(killed),
        "keys_per_stack": args.count,
        "keys_live": sum(o.keys for o in outcomes), "keys_in_state": sum(o.in_state for o in outcomes),
        "orphans": sum(len(o.orphans) for o in outcomes),
        "duplicate_names": sum(len(o.duplicates) for o in outcomes),
        "pending_operations": sum(o.pending for o in outcomes),
        "state_keys_missing": sum(len(o.missing) for o in outcomes),
        "survivors": sum(len(o.survivors) for o in outcomes),
        "cli_kill_processes_exited_s_max": max(gone) if gone else None,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(json.dumps(total, indent=1))
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
