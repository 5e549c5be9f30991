#!/usr/bin/env python3
"""``make bench-rate-limit``: N keys through the plugin at ``--parallel P`` against an emulator that limits every
account to R requests/s, through the real Pulumi CLI. See benchmarks/README.md ("Under a rate limit").

    python benchmarks/rate_limit.py                       # N=100, P=64, R=20/s, 10 runs
    python benchmarks/rate_limit.py --runs 2 --n 50

Each run: a fresh tenant, a fresh stack whose program declares N ``imburse:index:TenantKey`` (no declared name:
one request per key), ``pulumi up --parallel P``; then the emulator's counts for that ``up``: requests, 429s
from the rate limit, retries of refused requests and the shortest wait before one (``X-Request-Id``), the span
from the first to the last request. The ideal is N creates + 1 token exchange + 1 list of the tenant. Last, the
same ``up`` with the rate limit off and half the requests refused at random with ``429, Retry-After: 0`` (the
fault injector; ``--refused-retry-after 2`` for the issue's run): the shortest retry gap shows the minimum
backoff. A JSON file goes to ``benchmarks/results/``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import pulumi

from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin import schema
from pulumi_imburse.testing import emulated_stack

RESULTS = Path(__file__).resolve().parent / "results"


def one_up(emu: EmulatorProcess, api: ImburseClient, n: int, parallel: int, label: str) -> dict[str, Any]:
    """One ``pulumi up`` of ``n`` native keys in a fresh tenant; the emulator's figures for it."""
    tenant_id = api.create_tenant(f"bench {label}").tenant_id

    def program() -> None:
        for i in range(n):
            pulumi.CustomResource(schema.TENANT_KEY_TOKEN, f"key-{i}", {"tenantId": tenant_id,
                                                                        "roles": ["tenant-app-read"]})

    with emulated_stack(program, project_name="bench-rate-limit", emulator=emu, destroy_on_exit=False) as s:
        time.sleep(1.0)  # the account's bucket full again after the tenant's creation and the CLI's start
        emu.reset_stats()
        started = time.monotonic()
        ok = True
        try:
            s.stack.up(parallel=parallel, on_output=lambda _line: None)
        except Exception as exc:
            ok, error = False, str(exc)[-2000:]
        wall = time.monotonic() - started
        stats = emu.stats()
    window = stats["window"]
    result = {"ok": ok, "wall_s": round(wall, 3), "requests": sum(stats["requests"].values()),
              "by_route": stats["requests"], "throttled": stats["throttled"], "retries": stats["retries"],
              "span_s": round(window["last"] - window["first"], 3) if window["first"] else None,
              "peak_in_flight": stats["inFlight"]["peak"], "keys": len(api.list_keys(tenant_id))}
    if not ok:
        result["error"] = error
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--parallel", type=int, default=64)
    parser.add_argument("--rate", type=float, default=20.0, help="the emulator's requests/s per account")
    parser.add_argument("--burst", type=int, default=None, help="default: one second's worth")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--refused-retry-after", type=int, default=0,
                        help="Retry-After of the last up's random refusals (default 0; the issue's run had 2)")
    args = parser.parse_args()
    ideal = args.n + 2
    runs: list[dict[str, Any]] = []
    with EmulatorProcess() as emu:
        api = ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id)
        for i in range(args.runs):
            emu.set_rate_limit(args.rate, args.burst)
            runs.append(one_up(emu, api, args.n, args.parallel, f"run {i}"))
            r = runs[-1]
            print(f"run {i + 1}: ok={r['ok']} wall {r['wall_s']:.2f} s, span {r['span_s']} s, {r['requests']} requests "
                  f"({r['requests'] / ideal:.3f} x ideal {ideal}), {r['throttled']} x 429, retries {r['retries']}, "
                  f"peak in flight {r['peak_in_flight']}, keys {r['keys']}", flush=True)
        emu.set_rate_limit(None)
        emu.set_faults(errorRate=0.5, errorStatuses=[429], retryAfterSeconds=args.refused_retry_after, seed=1)
        zero = one_up(emu, api, args.n, args.parallel, f"retry-after {args.refused_retry_after}")
        emu.clear_faults()
        print(f"Retry-After: {args.refused_retry_after}, half refused: ok={zero['ok']} wall {zero['wall_s']:.2f} s, "
              f"{zero['requests']} requests, retries {zero['retries']}", flush=True)
    walls = [r["wall_s"] for r in runs] or [0.0]
    spans = [r["span_s"] for r in runs if r["span_s"] is not None]
    summary = {
        "n": args.n, "parallel": args.parallel, "rate": args.rate, "burst": args.burst, "ideal_requests": ideal,
        "succeeded": sum(r["ok"] and r["keys"] == args.n for r in runs), "runs": len(runs),
        "max_requests_over_ideal": max((r["requests"] for r in runs), default=0) / ideal,
        "median_wall_s": statistics.median(walls), "max_wall_s": max(walls),
        "median_span_s": statistics.median(spans) if spans else None, "n_over_rate_s": args.n / args.rate,
        "throttled": [r["throttled"] for r in runs], "refused_at_random": zero, "each": runs,
    }
    print(json.dumps({k: v for k, v in summary.items() if k not in ("each", "refused_at_random")}, indent=1))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"rate-limit-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(summary, indent=1))
    print(f"written {out}")
    return 0 if summary["succeeded"] == len(runs) and zero["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
