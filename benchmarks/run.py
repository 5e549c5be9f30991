#!/usr/bin/env python3
"""``make bench``: ``pulumi up`` of N TenantKeys through the real Pulumi engine against the emulator.

Everything runs locally: one emulator (``--latency-ms`` fixed latency per API request) on 127.0.0.1 and the
real Pulumi CLI (on ``PATH``; ``make bench`` puts ``.tools/bin`` first) running an Automation API inline
program that declares N ``TenantKey`` resources in one tenant, through ``pulumi_imburse.testing.emulated_stack``
(a local file backend and passphrase secrets, as a user's hermetic stack). See ``benchmarks/README.md``.

    python benchmarks/run.py                    # N=200, L=20 ms, 3 repeats
    python benchmarks/run.py --quick            # a smoke run: N=40, L=10 ms, 1 repeat
    python benchmarks/run.py --n 400 --latency-ms 50 --parallel 32

The same run also compares the two ways to use the provider, at ``--parallel`` 16 and 32 (``--plugin-parallel``):
the Python dynamic resources (``pulumi_imburse.TenantKey``, served by the dynamic-provider host's 4 threads) and
the provider plugin (``imburse:index:TenantKey``, ``pulumi-resource-imburse``), each against its own floor
``ceil(N / concurrency) * L + L`` (one round trip per key, one token exchange; concurrency 4 for the host, P for
the plugin). Beside them, at the same ``--parallel``, the **engine floor**: the same N keys through
``engine_floor.py``, a native plugin on the plugin's own server whose create only waits L and calls nothing (the
best the engine allows a native provider here); the plugin's wall is reported over it too.

Results: a JSON file in ``benchmarks/results/`` (and ``latest.json``), plus a short table on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import platform
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import engine_floor  # benchmarks/ is sys.path[0] (run as a script)
import pulumi
from pulumi import automation as auto

from pulumi_imburse import TenantKey
from pulumi_imburse.client import ImburseClient
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.plugin.schema import TENANT_KEY_TOKEN
from pulumi_imburse.testing import emulated_stack

BENCH_DIR: Final = Path(__file__).resolve().parent
ROOT: Final = BENCH_DIR.parent
TOOLS_BIN: Final = ROOT / ".tools" / "bin"
BASELINE_FILE: Final = BENCH_DIR / "baseline_provider.py"
RESULTS_DIR: Final = BENCH_DIR / "results"
HOST_WORKERS: Final = 4
"""``python -m pulumi.dynamic`` serves gRPC calls from a ThreadPoolExecutor(max_workers=4)."""
TOKEN_ROUTE: Final = "POST /identity/v1/hmac/management"
ROLES: Final = ["tenant-app-read"]
PLUGIN_PARALLEL: Final = (16, 32)
"""The ``--parallel`` values at which the plugin and the dynamic resources are compared."""

# What `python -m pulumi.dynamic` imports before it serves (pulumi/dynamic/__main__.py), for the import share. It
# also imports two private modules of pulumi.runtime, which `import pulumi.runtime` has loaded already.
HOST_IMPORTS: Final = ("import asyncio, base64, dill, grpc\n"
                       "from google.protobuf import empty_pb2\n"
                       "import pulumi.metadata, pulumi.runtime, pulumi.dynamic\n"
                       "from pulumi.runtime.proto import provider_pb2_grpc\n")
OUR_IMPORT: Final = "import pulumi_imburse.tenant_key\n"

_PYCACHE: Final = Path(tempfile.mkdtemp(prefix="imburse-bench-pycache-"))
_BATCH_SETITEMS: Final = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]


def fresh_pickler() -> None:
    """Undo what earlier programs in this process left in ``pickle``, as a new program process would start.

    The SDK's ``serialize_provider`` (pulumi 3.272) wraps ``pickle._Pickler._batch_setitems`` on every call
    and never restores it, so each dynamic resource declared in a process adds a wrapper: pickling a dict
    then recurses once per resource declared before, and a provider pickled by value (the baseline) fails
    with ``RecursionError`` after about 238 resources in one process. Every ``pulumi up`` of a real program
    is a new process; the inline programs here share this one, so the wrappers are removed before each.
    """
    pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ one pulumi up


@dataclass
class Marks:
    """What the inline program saw: when it started declaring, and when each resource's id came back."""

    start: float = 0.0
    created: list[float] = field(default_factory=list)


Declare = Callable[[str, str], pulumi.CustomResource]
"""``declare(resource_name, tenant_id)``: one key resource of the kind under test."""


def keys_program(declare: Declare, tenant_id: str, n: int, marks: Marks) -> auto.PulumiFn:
    """An inline program declaring ``n`` keys in ``tenant_id``, timing each create as the program sees it.

    The engine answers a resource's registration once its step is done, so ``id`` resolves when the key
    exists; the program runs in this process, on this clock.
    """

    def program() -> None:
        marks.start = time.perf_counter()
        marks.created = []
        for i in range(n):
            resource = declare(f"key-{i}", tenant_id)
            resource.id.apply(lambda _id: marks.created.append(time.perf_counter()))

    return program


def ours(name: str, tenant_id: str) -> pulumi.CustomResource:
    """``pulumi_imburse.TenantKey``."""
    return TenantKey(name, tenant_id=tenant_id, roles=ROLES)


def native(name: str, tenant_id: str) -> pulumi.CustomResource:
    """``imburse:index:TenantKey``, served by the ``pulumi-resource-imburse`` plugin."""
    outputs = dict.fromkeys(("name", "accountId", "publicKey", "privateKey", "createdAt"))
    return pulumi.CustomResource(TENANT_KEY_TOKEN, name, {**outputs, "tenantId": tenant_id, "roles": ROLES})


def engine_floor_key(name: str, tenant_id: str) -> pulumi.CustomResource:
    """``imbursebench:index:TenantKey``: the engine-floor stand-in (``engine_floor.py``), declared as ``native``."""
    outputs = dict.fromkeys(("name", "accountId", "publicKey", "privateKey", "createdAt"))
    return pulumi.CustomResource(engine_floor.TOKEN, name, {**outputs, "tenantId": tenant_id, "roles": ROLES})


def cli_env(latency_ms: float, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """More environment for the CLI and the hosts it starts.

    Bytecode is cached under a temporary prefix, as a pip-installed package has its ``.pyc`` files (this
    checkout may run with ``PYTHONDONTWRITEBYTECODE``, which would recompile our modules in every host);
    ``benchmarks/`` is on ``PYTHONPATH`` so the host can import the calibration provider by reference.
    """
    path = os.pathsep.join(p for p in (str(BENCH_DIR), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(_PYCACHE), "PYTHONPATH": path,
            "IMBURSE_BENCH_LATENCY_MS": f"{latency_ms:g}", **(extra or {})}


def by_method(stats: Mapping[str, int]) -> dict[str, int]:
    """Request counts grouped as writes (state-changing), token exchanges and reads."""
    out = {"writes": 0, "token_exchanges": 0, "reads": 0}
    for route, count in stats.items():
        if route == TOKEN_ROUTE:
            out["token_exchanges"] += count
        elif route.split(" ", 1)[0] in ("POST", "PUT", "PATCH", "DELETE"):
            out["writes"] += count
        else:
            out["reads"] += count
    return out


def floor_seconds(n: int, latency_s: float, concurrency: int = HOST_WORKERS) -> float:
    """``concurrency`` creates at a time (the host serves 4 calls at a time; the plugin as many as the engine's
    ``--parallel``), each needing one round trip, plus the one token exchange."""
    return math.ceil(n / concurrency) * latency_s + latency_s


def cli_duration(stdout: str) -> float | None:
    """The CLI's own ``Duration: 12s`` (or ``1m3s``) summary line, in seconds (whole seconds only)."""
    match = re.search(r"Duration: (?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", stdout)
    if not match or not any(match.groups()):
        return None
    h, m, s = (float(g) if g else 0.0 for g in match.groups())
    return h * 3600 + m * 60 + s


def run_up(emu: EmulatorProcess, label: str, declare: Declare, n: int, latency_ms: float, *,
           parallel: int | None, env: Mapping[str, str] | None = None, noop: bool = False,
           concurrency: int = HOST_WORKERS) -> dict[str, Any]:
    """``pulumi up`` of ``n`` keys in a fresh stack and tenant; with ``noop``, a second ``pulumi up`` after it."""
    with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as api:
        tenant = api.create_tenant(f"bench {label}"[:100]).tenant_id
    marks = Marks()
    program = keys_program(declare, tenant, n, marks)
    with emulated_stack(program, project_name="bench", stack_name=re.sub(r"\W", "-", label), emulator=emu,
                        env=cli_env(latency_ms, env), destroy_on_exit=False) as s:
        fresh_pickler()
        emu.reset_stats()
        start = time.perf_counter()
        up = s.stack.up(parallel=parallel, on_output=_drop)
        wall = time.perf_counter() - start
        stats = emu.stats()["requests"]
        if len(marks.created) != n:
            raise RuntimeError(f"{label}: {len(marks.created)} of {n} keys reported created")
        floor = floor_seconds(n, latency_ms / 1000, concurrency)
        span = max(marks.created) - marks.start
        figures: dict[str, Any] = {
            "parallel": parallel or "default",
            "changes": dict(up.summary.resource_changes or {}),
            "wall_s": round(wall, 4),
            "cli_duration_s": cli_duration(up.stdout),
            "floor_s": round(floor, 4),
            "floor_over_wall": round(floor / wall, 4),
            "steps_span_s": round(span, 4),
            "floor_over_steps_span": round(floor / span, 4),
            "program_start_s": round(marks.start - start, 4),
            "first_created_s": round(min(marks.created) - marks.start, 4),
            "after_last_created_s": round(start + wall - max(marks.created), 4),
            "http_requests": sum(stats.values()),
            "http_requests_per_key": round(sum(stats.values()) / n, 4),
            "peak_in_flight": emu.stats().get("inFlight", {}).get("peak"),
            "requests_by_route": stats,
            "state": state_figures(s.stack, s.backend_dir, n),
        }
        if noop:
            fresh_pickler()
            emu.reset_stats()
            start = time.perf_counter()
            again = s.stack.up(parallel=parallel, on_output=_drop)
            noop_wall = time.perf_counter() - start
            noop_stats = emu.stats()["requests"]
            figures["noop"] = {"wall_s": round(noop_wall, 4), "cli_duration_s": cli_duration(again.stdout),
                               "changes": dict(again.summary.resource_changes or {}), **by_method(noop_stats),
                               "requests_by_route": noop_stats}
    return figures


def state_figures(stack: auto.Stack, backend_dir: Path, n: int) -> dict[str, Any]:
    """The stack's real state: the checkpoint file's size, and one key's ``__provider`` (size, secret or not)."""
    checkpoint = next(backend_dir.glob(".pulumi/stacks/*/*.json"))
    size = checkpoint.stat().st_size
    stored = json.loads(checkpoint.read_text(encoding="utf-8"))
    keys = [r for r in stored["checkpoint"]["latest"]["resources"] if r["type"].endswith(":TenantKey")]
    provider = keys[0]["inputs"].get("__provider", "") if keys else ""  # none for the plugin's keys
    secret = isinstance(provider, dict)
    exported = next(r for r in (stack.export_stack().deployment or {})["resources"]
                    if r["type"].endswith(":TenantKey"))
    plain = exported["inputs"].get("__provider", "")
    plain = plain.get("plaintext", "") if isinstance(plain, dict) else plain
    return {
        "checkpoint_bytes": size,
        "bytes_per_key": round(size / n, 1),
        "provider_secret": secret,
        "provider_bytes": len(json.loads(plain) if secret else plain),
        "provider_stored_bytes": len(json.dumps(provider)),
        "resource_bytes": len(json.dumps(keys[0], separators=(",", ":"))) if keys else 0,
        "stack_trace_frames": len(keys[0].get("stackTrace") or []) if keys else 0,
        "stack_trace_bytes": len(json.dumps(keys[0].get("stackTrace") or [], separators=(",", ":"))) if keys else 0,
    }


def _drop(_line: str) -> None:
    pass


# ------------------------------------------------------------------------------------------ cold start


def run_cold_start(emu: EmulatorProcess, repeats: int) -> dict[str, Any]:
    """``pulumi up`` of one key in a fresh stack, emulator latency 0: CLI, program, host start and one create."""
    walls, first = [], []
    emu.set_faults(latencyMs=0)
    try:
        for i in range(repeats):
            figures = run_up(emu, f"cold-{i}", ours, 1, 0.0, parallel=None)
            walls.append(figures["wall_s"])
            first.append(figures["program_start_s"] + figures["first_created_s"])
    finally:
        emu.clear_faults()
    return {
        "repeats": repeats,
        "up_one_key_s": round(statistics.median(walls), 4),
        "to_first_create_s": round(statistics.median(first), 4),
        "all_up_one_key_s": walls,
    }


def _python_timing(prelude: str, timed: str) -> float:
    """Seconds ``timed`` takes in a fresh interpreter once ``prelude`` has run."""
    script = f"import time\n{prelude}\n_t = time.perf_counter()\n{timed}\nprint(time.perf_counter() - _t)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir(), timeout=120, env=_child_env())
    return float(out.stdout.strip().splitlines()[-1])


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
    return env


def _host_boot() -> float:
    """Seconds from spawning ``python -u -m pulumi.dynamic`` to its port line (the host is then ready)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=_child_env(),
                            cwd=tempfile.gettempdir())
    try:
        assert proc.stdout is not None
        int(proc.stdout.readline())
        return time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_import_share(repeats: int) -> dict[str, Any]:
    """How long ``import pulumi_imburse.tenant_key`` takes once the host's own imports are done."""
    _python_timing(HOST_IMPORTS, OUR_IMPORT)  # fills the bytecode cache
    host_only = [_python_timing("", HOST_IMPORTS) for _ in range(repeats)]
    ours_ = [_python_timing(HOST_IMPORTS, OUR_IMPORT) for _ in range(repeats)]
    boots = [_host_boot() for _ in range(repeats)]
    return {
        "repeats": repeats,
        "host_boot_s": round(statistics.median(boots), 4),
        "host_imports_s": round(statistics.median(host_only), 4),
        "our_import_s": round(statistics.median(ours_), 4),
        "our_import_by_package_ms": _importtime_breakdown(),
    }


def _importtime_breakdown(top: int = 6) -> dict[str, float]:
    """``python -X importtime``: self time of the modules our import brings in, by top-level package (ms)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", HOST_IMPORTS + OUR_IMPORT],
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(), timeout=120,
                         env=_child_env())
    rows = [m.groups() for m in re.finditer(r"import time:\s+(\d+) \|\s+\d+ \|( *)(\S+)", out.stderr)]
    # -X importtime prints a module after everything it imported: our subtree is the run of rows that
    # ends with the top-level (unindented) pulumi_imburse.tenant_key row, back to the previous top-level row.
    end = max(i for i, (_, indent, name) in enumerate(rows) if name == "pulumi_imburse.tenant_key" and indent == " ")
    start = max((i for i, (_, indent, _) in enumerate(rows[:end]) if indent == " "), default=-1) + 1
    totals: dict[str, float] = {}
    for self_us, _, name in rows[start:end + 1]:
        package = name.split(".", 1)[0]
        totals[package] = totals.get(package, 0.0) + int(self_us) / 1000
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    result = {k: round(v, 1) for k, v in ranked[:top]}
    if len(ranked) > top:
        result["other"] = round(sum(v for _, v in ranked[top:]), 1)
    return result


# ------------------------------------------------------------------------------------------ main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=None, help="keys to apply (default 200; --quick: 40)")
    parser.add_argument("--latency-ms", type=float, default=None,
                        help="emulator latency per API request (default 20; --quick: 10)")
    parser.add_argument("--parallel", type=int, default=16,
                        help="the explicit `pulumi up --parallel` compared with the engine's default (16)")
    parser.add_argument("--plugin-parallel", type=int, nargs="+", default=list(PLUGIN_PARALLEL),
                        help="--parallel values at which the plugin and the dynamic resources are compared "
                             "(default: 16 32)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats of each up; medians reported (default 3)")
    parser.add_argument("--cold-repeats", type=int, default=None, help="one-key ups measured (default 5)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (N=40, L=10 ms, 1 repeat)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive baseline (slow: its state is big)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args(argv)
    args.n = args.n or (40 if args.quick else 200)
    args.latency_ms = args.latency_ms if args.latency_ms is not None else (10.0 if args.quick else 20.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.cold_repeats = args.cold_repeats or (1 if args.quick else 5)
    if args.n < 1 or args.parallel < 1 or args.repeat < 1 or args.latency_ms < 0 or min(args.plugin_parallel) < 1:
        parser.error("--n, --parallel and --repeat must be positive and --latency-ms >= 0")
    return args


def load_by_value(path: Path = BASELINE_FILE) -> dict[str, Any]:
    """Run ``path`` as Pulumi's language host runs a program's ``__main__.py``.

    Its classes get ``__module__ == "__main__"``, which is what makes dill pickle a dynamic provider by
    value (code, helpers and instance attributes) instead of by reference to an importable class.
    """
    return runpy.run_path(str(path), run_name="__main__")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if TOOLS_BIN.is_dir():
        os.environ["PATH"] = f"{TOOLS_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    for name in [k for k in os.environ if k.startswith("IMBURSE_")]:
        del os.environ[name]  # the providers read only the stack config here
    import bench_calibration  # benchmarks/ is sys.path[0]: imported by name, pickled by reference

    # The engine-floor plugin: its launcher first on the CLI's PATH (emulated_stack keeps PATH's order).
    os.environ["PATH"] = f"{engine_floor.launcher(_PYCACHE).parent}{os.pathsep}{os.environ['PATH']}"

    n, latency = args.n, args.latency_ms
    result: dict[str, Any] = {
        "params": {"n": n, "latency_ms": latency, "parallel": args.parallel, "repeat": args.repeat,
                   "host_workers": HOST_WORKERS, "default_parallel": _default_parallel(),
                   "plugin_parallel": args.plugin_parallel},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "pulumi_cli": _cli_version(), "loadavg_start": _loadavg()},
    }
    configs: list[tuple[str, Declare, dict[str, Any]]] = [
        ("ours-default", ours, {"parallel": None, "noop": True}),
        (f"ours-parallel-{args.parallel}", ours, {"parallel": args.parallel, "noop": True}),
        ("ours-no-checkpoints", ours, {"parallel": None, "env": {"PULUMI_SKIP_CHECKPOINTS": "true"}}),
        ("calibration", lambda name, tenant: bench_calibration.SleepTenantKey(name, tenant, ROLES),
         {"parallel": None}),
    ]
    for p in args.plugin_parallel:  # the dynamic resources and the plugin, at the same --parallel
        if p != args.parallel:
            configs.append((f"ours-parallel-{p}", ours, {"parallel": p}))
        configs.append((f"plugin-parallel-{p}", native, {"parallel": p, "concurrency": p, "noop": p == args.parallel}))
        configs.append((f"engine-floor-parallel-{p}", engine_floor_key, {"parallel": p, "concurrency": p}))
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, _, _ in configs}
    with EmulatorProcess(latency_ms=latency) as emu:
        _progress("warm-up (bytecode caches, not measured)")
        for label, declare in (("ours", ours), ("calibration", configs[3][1]), ("plugin", native),
                               ("engine-floor", engine_floor_key)):  # one key each
            run_up(emu, f"warm-up-{label}", declare, 1, latency, parallel=None)
        for r in range(args.repeat):
            order = configs if r % 2 == 0 else configs[::-1]  # alternate, so no config always runs first
            for label, declare, options in order:
                figures = run_up(emu, f"{label}-r{r}", declare, n, latency, **options)
                runs[label].append(figures)
                _progress(f"repeat {r + 1}/{args.repeat} {label}: up {figures['wall_s']:.2f} s "
                          f"(steps {figures['steps_span_s']:.2f} s), floor/wall {figures['floor_over_wall']:.3f}"
                          + (f", no-change up {figures['noop']['wall_s']:.2f} s" if "noop" in figures else ""))
        result["runs"] = {label: _summarise(rs) for label, rs in runs.items()}
        result["plugin_vs_dynamic"] = _plugin_vs_dynamic(result["runs"], args.plugin_parallel)
        if not args.no_baseline:
            baseline = load_by_value()
            creds = {"base_url": emu.base_url, "account_id": emu.account_id, "public_key": emu.public_key,
                     "private_key": emu.private_key}
            _progress("naive baseline (by-value provider, a token per call)")
            figures = run_up(emu, "baseline", lambda name, tenant: baseline["BaselineTenantKey"](
                name, tenant, ROLES, creds), n, latency, parallel=None)
            result["baseline"] = figures
            _progress(f"baseline: up {figures['wall_s']:.2f} s")
        _progress("cold start")
        result["cold_start"] = run_cold_start(emu, args.cold_repeats)
    result["cold_start"].update(run_import_share(max(3, args.cold_repeats)))
    cs = result["cold_start"]
    cs["our_import_share"] = round(cs["our_import_s"] / cs["up_one_key_s"], 3)
    result["ratios"] = _ratios(result, args.parallel)
    result["machine"]["loadavg_end"] = _loadavg()

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = json.dumps(result, indent=2, sort_keys=False) + "\n"
    (args.out / f"bench-{stamp}.json").write_text(text, encoding="utf-8")
    (args.out / "latest.json").write_text(text, encoding="utf-8")
    print(render(result))
    print(f"\nresults: {args.out / f'bench-{stamp}.json'}")
    return 0


def _summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeats (every repeat kept under ``all``)."""

    def median(key: str, within: str | None = None) -> float:
        return round(float(statistics.median((r[within] if within else r)[key] for r in runs)), 4)

    out: dict[str, Any] = {
        "wall_s": median("wall_s"),
        "steps_span_s": median("steps_span_s"),
        "floor_s": runs[0]["floor_s"],
        "floor_over_wall": median("floor_over_wall"),
        "floor_over_steps_span": median("floor_over_steps_span"),
        "first_created_s": median("first_created_s"),
        "http_requests_per_key": median("http_requests_per_key"),
        "peak_in_flight": max(r.get("peak_in_flight") or 0 for r in runs),
        "state": runs[-1]["state"],
        "all": list(runs),
    }
    if "noop" in runs[0]:
        out["noop_wall_s"] = median("wall_s", "noop")
        out["noop"] = {k: runs[-1]["noop"][k] for k in ("changes", "writes", "reads", "token_exchanges")}
    return out


def _plugin_vs_dynamic(runs: Mapping[str, Any], parallels: Sequence[int]) -> dict[str, dict[str, Any]]:
    """At each ``--parallel``: both walls, the plugin's floor and floor/wall, dynamic wall / plugin wall, and the
    engine floor's wall with plugin wall / engine floor (ratios per repeat, median: the configurations of one
    repeat ran under the same machine conditions)."""
    out: dict[str, dict[str, Any]] = {}
    for p in parallels:
        plugin, dynamic = runs[f"plugin-parallel-{p}"], runs[f"ours-parallel-{p}"]
        engine = runs[f"engine-floor-parallel-{p}"]
        pairs = zip(dynamic["all"], plugin["all"], strict=True)
        over_engine = zip(plugin["all"], engine["all"], strict=True)
        out[str(p)] = {
            "engine_floor_wall_s": engine["wall_s"], "engine_floor_steps_span_s": engine["steps_span_s"],
            "plugin_over_engine_floor_wall": round(statistics.median(q["wall_s"] / e["wall_s"]
                                                                     for q, e in over_engine), 3),
            "plugin_wall_s": plugin["wall_s"], "dynamic_wall_s": dynamic["wall_s"],
            "plugin_floor_s": plugin["floor_s"], "plugin_floor_over_wall": plugin["floor_over_wall"],
            "plugin_floor_over_steps_span": plugin["floor_over_steps_span"],
            "dynamic_floor_s": dynamic["floor_s"], "dynamic_floor_over_wall": dynamic["floor_over_wall"],
            "dynamic_over_plugin_wall": round(statistics.median(d["wall_s"] / q["wall_s"] for d, q in pairs), 3),
            "plugin_requests_per_key": plugin["http_requests_per_key"],
            "dynamic_requests_per_key": dynamic["http_requests_per_key"],
            "plugin_peak_in_flight": plugin["peak_in_flight"], "dynamic_peak_in_flight": dynamic["peak_in_flight"],
        }
    return out


def _ratios(result: Mapping[str, Any], parallel: int) -> dict[str, float]:
    """Ratios between configurations, each from the same repeat (same machine conditions), medians."""
    runs = result["runs"]

    def per_repeat(a: str, b: str, key: str) -> float:
        pairs = zip(runs[a]["all"], runs[b]["all"], strict=True)
        return round(float(statistics.median(x[key] / y[key] for x, y in pairs)), 3)

    out = {
        f"wall default / wall parallel {parallel}": per_repeat("ours-default", f"ours-parallel-{parallel}", "wall_s"),
        "wall ours / wall calibration": per_repeat("ours-default", "calibration", "wall_s"),
        "steps ours / steps calibration": per_repeat("ours-default", "calibration", "steps_span_s"),
        "wall with checkpoints / without": per_repeat("ours-default", "ours-no-checkpoints", "wall_s"),
    }
    if "baseline" in result:
        out["wall baseline / wall ours (one run)"] = round(
            result["baseline"]["wall_s"] / runs["ours-default"]["all"][-1]["wall_s"], 3)
    return out


def render(result: Mapping[str, Any]) -> str:
    """The short table printed at the end."""
    p, runs, ratios, cs = result["params"], result["runs"], result["ratios"], result["cold_start"]
    rows = [("pulumi up", f"N={p['n']} keys in one tenant, L={p['latency_ms']:g} ms, engine default --parallel "
                          f"{p['default_parallel']}, {p['repeat']} repeat(s), medians; wall = around the up call")]
    for label, r in runs.items():
        rows += [
            (f"  {label}", f"wall {r['wall_s']:.2f} s, floor {r['floor_s']:.3f} s, floor/wall "
                           f"{r['floor_over_wall']:.3f}; steps {r['steps_span_s']:.2f} s "
                           f"(floor/steps {r['floor_over_steps_span']:.3f}); {r['http_requests_per_key']:.3f} req/key"),
        ]
        if "noop_wall_s" in r:
            n = r["noop"]
            rows.append(("    no-change up", f"{n['changes']}: wall {r['noop_wall_s']:.2f} s, writes {n['writes']}, "
                                             f"reads {n['reads']}, token exchanges {n['token_exchanges']}"))
    s = runs["ours-default"]["state"]
    rows.append(("  state (ours)", f"checkpoint {s['checkpoint_bytes'] / 1024:.0f} KiB "
                                   f"({s['bytes_per_key']:.0f} B/key, "
                                   f"{s['stack_trace_bytes']} B of them the SDK's stack trace); __provider "
                                   f"{s['provider_bytes']} B, secret: {s['provider_secret']}"))
    if "baseline" in result:
        b = result["baseline"]
        rows += [
            ("  baseline (naive)", f"wall {b['wall_s']:.2f} s, floor/wall {b['floor_over_wall']:.3f}, "
                                   f"{b['http_requests_per_key']:.2f} req/key"),
            ("    state", f"checkpoint {b['state']['checkpoint_bytes'] / 1024:.0f} KiB "
                          f"({b['state']['bytes_per_key']:.0f} B/key); __provider {b['state']['provider_bytes']} B, "
                          f"secret: {b['state']['provider_secret']}"),
        ]
    rows += [(f"  {k}", f"{v:.3f}") for k, v in ratios.items()]
    for p, c in result.get("plugin_vs_dynamic", {}).items():
        rows.append((f"plugin vs dynamic, --parallel {p}",
                     f"plugin {c['plugin_wall_s']:.2f} s (floor {c['plugin_floor_s']:.3f} s, floor/wall "
                     f"{c['plugin_floor_over_wall']:.3f}, {c['plugin_requests_per_key']:.2f} req/key, peak "
                     f"{c['plugin_peak_in_flight']} requests in flight); dynamic {c['dynamic_wall_s']:.2f} s (floor "
                     f"{c['dynamic_floor_s']:.3f} s, peak {c['dynamic_peak_in_flight']} in flight); dynamic/plugin "
                     f"{c['dynamic_over_plugin_wall']:.3f}"))
        rows.append((f"  engine floor, --parallel {p}",
                     f"{c['engine_floor_wall_s']:.2f} s (a native plugin whose create only waits L); plugin / "
                     f"engine floor {c['plugin_over_engine_floor_wall']:.3f}"))
    rows += [
        ("cold start", f"pulumi up of one key {cs['up_one_key_s']:.2f} s (L=0; first create "
                       f"{cs['to_first_create_s']:.2f} s after the call)"),
        ("  host alone", f"{cs['host_boot_s'] * 1000:.0f} ms from spawn to its port line "
                         f"(its own imports {cs['host_imports_s'] * 1000:.0f} ms)"),
        ("  our import", f"{cs['our_import_s'] * 1000:.0f} ms ({cs['our_import_share']:.0%} of a one-key up)"),
        ("  import by package", ", ".join(f"{k} {v:.0f} ms" for k, v in cs["our_import_by_package_ms"].items())),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join([*lines, "", f"load average start/end: {result['machine']['loadavg_start']} / "
                                  f"{result['machine']['loadavg_end']} ({result['machine']['cpus']} CPUs)"])


def _default_parallel() -> int | None:
    """The CLI's default ``--parallel`` on this machine (4 x GOMAXPROCS), from ``pulumi up --help``."""
    try:
        out = subprocess.run(["pulumi", "up", "--help"], capture_output=True, text=True, timeout=60, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"--parallel int32 .*\(default (\d+)\)", out.stdout)
    return int(match.group(1)) if match else None


def _cli_version() -> str:
    try:
        return subprocess.run(["pulumi", "version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
