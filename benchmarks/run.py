#!/usr/bin/env python3
"""``make bench``: the provider against the host's floor, the naive baseline, a no-op up, and cold start.

Everything runs locally: one emulator (``--latency-ms`` fixed latency per API request) on 127.0.0.1 and
real provider hosts (``python -m pulumi.dynamic``) driven like the engine drives them: a pool of
``--parallel`` calls in flight (the engine's default 16), each key Check then Create. Properties are the
ones the SDK itself sends for a real declaration. See ``benchmarks/README.md`` for how to read the output.

    python benchmarks/run.py                    # N=200, L=20 ms, 3 repeats
    python benchmarks/run.py --quick            # a smoke run: N=40, L=10 ms, 1 repeat
    python benchmarks/run.py --n 400 --latency-ms 50

Results: a JSON file in ``benchmarks/results/`` (and ``latest.json``), plus a short table on stdout.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import re
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.provider.harness: the SDK-faithful way to get wire properties

import pulumi  # noqa: E402
from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from pulumi_imburse import TenantKey  # noqa: E402
from pulumi_imburse.client import ImburseClient  # noqa: E402
from pulumi_imburse.emulator.process import EmulatorProcess  # noqa: E402
from tests.provider.harness import PROJECT, STACK, stack_config, start_host  # noqa: E402
from tests.support.declared import registration  # noqa: E402
from tests.support.host import ProviderHost  # noqa: E402

BASELINE_FILE: Final = Path(__file__).resolve().parent / "baseline_provider.py"
RESULTS_DIR: Final = Path(__file__).resolve().parent / "results"
HOST_WORKERS: Final = 4
"""``python -m pulumi.dynamic`` serves gRPC calls from a ThreadPoolExecutor(max_workers=4)."""
TOKEN_ROUTE: Final = "POST /identity/v1/hmac/management"
ROLES: Final = ["tenant-app-read"]
SECRET_SIG: Final = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}

# What `python -m pulumi.dynamic` imports before it serves (pulumi/dynamic/__main__.py), for the import share.
HOST_IMPORTS: Final = ("import asyncio, base64, dill, grpc\n"
                       "from google.protobuf import empty_pb2\n"
                       "import pulumi.metadata, pulumi.runtime, pulumi.dynamic\n"
                       "from pulumi.runtime._serialization import _deserialize\n"
                       "from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS\n"
                       "from pulumi.runtime.proto import provider_pb2_grpc\n")
OUR_IMPORT: Final = "import pulumi_imburse.tenant_key\n"


# ------------------------------------------------------------------------------------------ declarations


@dataclass(frozen=True)
class Declared:
    """One resource as the SDK registers it: wire inputs (secrets unwrapped) and what the engine keeps secret."""

    type_token: str
    props: dict[str, Any]
    secret_inputs: frozenset[str]
    secret_outputs: frozenset[str]

    def urn(self, name: str) -> str:
        """The URN the engine gives a top-level resource of this type named ``name``."""
        return f"urn:pulumi:{STACK}::{PROJECT}::{self.type_token}::{name}"


def declare(build: Callable[[], pulumi.CustomResource]) -> Declared:
    """Register ``build()`` under the SDK's mocks and return what the engine would receive.

    Adds which inputs are secret and the resource's ``additionalSecretOutputs`` (both decide what the
    engine encrypts in state).
    """
    reg = registration(build)
    return Declared(type_token=reg.type, props=reg.inputs, secret_inputs=reg.secret_inputs,
                    secret_outputs=reg.additional_secret_outputs)


def load_by_value(path: Path = BASELINE_FILE) -> dict[str, Any]:
    """Run ``path`` as Pulumi's language host runs a program's ``__main__.py``.

    Its classes get ``__module__ == "__main__"``, which is what makes dill pickle a dynamic provider by
    value (code, helpers and instance attributes) instead of by reference to an importable class.
    """
    return runpy.run_path(str(path), run_name="__main__")


# ------------------------------------------------------------------------------------------ engine state


class StateSizer:
    """Bytes the engine would store for a resource: inputs and outputs, secrets as encrypted envelopes.

    Secrets are sealed as the Pulumi CLI's passphrase secrets manager seals them
    (``{"4dabf1...": "1b4706...", "ciphertext": "v1:<nonce>:<AES-256-GCM ciphertext>"}``); an output is
    secret when it is in ``additionalSecretOutputs`` or when the input of the same name was secret.
    JSON is compact (the CLI indents its checkpoints, which only adds whitespace).
    """

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def _seal(self, value: Any) -> dict[str, str]:
        nonce = os.urandom(12)
        ciphertext = self._aead.encrypt(nonce, json.dumps(value).encode(), None)
        b64 = base64.b64encode
        return {**SECRET_SIG, "ciphertext": f"v1:{b64(nonce).decode()}:{b64(ciphertext).decode()}"}

    def size(self, declared: Declared, inputs: Mapping[str, Any], outputs: Mapping[str, Any]) -> int:
        """Bytes of ``{"inputs": ..., "outputs": ...}`` for one resource."""
        secret_outs = declared.secret_inputs | declared.secret_outputs
        doc = {
            "inputs": {k: self._seal(v) if k in declared.secret_inputs else v for k, v in inputs.items()},
            "outputs": {k: self._seal(v) if k in secret_outs else v for k, v in outputs.items()},
        }
        return len(json.dumps(doc, separators=(",", ":"), sort_keys=True))


# ------------------------------------------------------------------------------------------ driving the host


@dataclass
class Applied:
    """One key after Check and Create."""

    urn: str
    props: dict[str, Any]
    checked: dict[str, Any]
    id: str
    outputs: dict[str, Any]


@dataclass(frozen=True)
class Job:
    """One key to apply: its URN and the wire inputs the program sent."""

    urn: str
    props: dict[str, Any]


_PYCACHE: Final = Path(tempfile.mkdtemp(prefix="imburse-bench-pycache-"))


def child_env() -> dict[str, str]:
    """The environment of every child interpreter (hosts, import timings): no ``IMBURSE_*`` variable, and
    bytecode cached under a temporary prefix, as a pip-installed package has its ``.pyc`` files (this
    checkout may run with ``PYTHONDONTWRITEBYTECODE``, which would recompile our modules in every host)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMBURSE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
    return env


def new_host(emu: EmulatorProcess) -> ProviderHost:
    """A fresh provider host process configured with the emulator's account (a new ``pulumi up``)."""
    return start_host(Path(tempfile.mkdtemp(prefix="imburse-bench-")), stack_config(emu), env=child_env())


def apply_all(host: ProviderHost, jobs: Sequence[Job], parallel: int) -> tuple[float, list[Applied]]:
    """Check then Create every job with ``parallel`` calls in flight; ``(wall seconds, results)``."""

    def one(job: Job) -> Applied:
        checked, failures = host.check(job.urn, {}, job.props)
        if failures:
            raise RuntimeError(f"check of {job.urn} failed: {failures}")
        id_, outputs = host.create(job.urn, checked)
        return Applied(job.urn, job.props, checked, id_, outputs)

    with ThreadPoolExecutor(parallel) as pool:
        start = time.perf_counter()
        results = list(pool.map(one, jobs))
        return time.perf_counter() - start, results


def floor_seconds(n: int, latency_s: float) -> float:
    """``ceil(N/4)·L`` for the creates (4 served at a time) plus one token exchange."""
    return math.ceil(n / HOST_WORKERS) * latency_s + latency_s


def api_total(stats: Mapping[str, int]) -> int:
    return sum(stats.values())


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


@contextmanager
def cpu_meter(pids: Mapping[str, int]) -> Iterator[dict[str, float]]:
    """CPU seconds (user + system) each process spent inside the block."""

    def cpu(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    result: dict[str, float] = {}
    try:
        before = {name: cpu(pid) for name, pid in pids.items()}
    except OSError:  # not Linux: no per-process figures
        yield result
        return
    yield result
    for name, pid in pids.items():
        try:
            result[name] = round(cpu(pid) - before[name], 3)
        except OSError:
            pass


def run_apply(emu: EmulatorProcess, label: str, declared: Sequence[Declared], names: Sequence[str],
              parallel: int, latency_s: float) -> tuple[dict[str, Any], list[Applied]]:
    """Benchmark 1/2: apply ``len(names)`` keys through a fresh host; figures and the applied keys."""
    jobs = [Job(declared[i % len(declared)].urn(name), _renamed(declared[i % len(declared)], name))
            for i, name in enumerate(names)]
    host = new_host(emu)
    try:
        host.check(declared[0].urn(f"{label}-warmup"), {}, jobs[0].props)  # Configure + unpickle, no API call
        emu.reset_stats()
        pids = {"host": host._proc.pid, "emulator": emu._proc.pid if emu._proc else 0, "driver": os.getpid()}
        with cpu_meter(pids) as cpu:
            wall, applied = apply_all(host, jobs, parallel)
        stats = emu.stats()["requests"]
    finally:
        host.close()
    n = len(names)
    floor = floor_seconds(n, latency_s)
    return {
        "wall_s": round(wall, 4),
        "floor_s": round(floor, 4),
        "floor_over_wall": round(floor / wall, 4),
        "http_requests": api_total(stats),
        "http_requests_per_key": round(api_total(stats) / n, 4),
        "requests_by_route": stats,
        "cpu_ms_per_key": {k: round(v * 1000 / n, 2) for k, v in cpu.items()},
    }, applied


def _renamed(declared: Declared, name: str) -> dict[str, Any]:
    """The declaration's wire inputs for a resource called ``name`` (only the name-derived field differs)."""
    props = dict(declared.props)
    if "namePrefix" in props:
        props["namePrefix"] = name  # TenantKey: the resource name is the auto-name prefix
    else:
        props["name"] = name  # baseline and calibration: the resource name is the key name
    return props


def run_noop(emu: EmulatorProcess, applied: Sequence[Applied], parallel: int) -> dict[str, Any]:
    """Benchmark 3: a second up of the same program: Check (old inputs, program inputs) then Diff, per key."""
    host = new_host(emu)
    pair_ms: list[float] = []
    changes: dict[str, int] = {}
    try:
        first = applied[0]
        host.check(first.urn, first.checked, first.props)  # Configure + unpickle
        emu.reset_stats()

        def one(a: Applied) -> None:
            start = time.perf_counter()
            checked, failures = host.check(a.urn, a.checked, a.props)
            if failures:
                raise RuntimeError(f"check of {a.urn} failed: {failures}")
            diff = host.diff(a.urn, a.id, a.outputs, checked, a.checked, [])
            pair_ms.append((time.perf_counter() - start) * 1000)
            changes[diff.changes] = changes.get(diff.changes, 0) + 1

        with ThreadPoolExecutor(parallel) as pool:
            start = time.perf_counter()
            list(pool.map(one, applied))
            wall = time.perf_counter() - start
        stats = emu.stats()["requests"]
    finally:
        host.close()
    n = len(applied)
    return {
        "resources": n,
        "diff_changes": changes,
        **by_method(stats),
        "requests_by_route": stats,
        "wall_s": round(wall, 4),
        "check_diff_ms_per_resource": round(wall * 1000 / n, 3),
        "check_diff_latency_ms_p50": round(statistics.median(pair_ms), 3),
    }


def run_cold_start(emu: EmulatorProcess, declared: Declared, repeats: int) -> dict[str, Any]:
    """Benchmark 4: host process start to the first Create's answer (emulator latency set to 0 meanwhile)."""
    totals, checks, creates = [], [], []
    emu.set_faults(latencyMs=0)
    try:
        for i in range(repeats):
            name = f"cold-{i}"
            job = Job(declared.urn(name), _renamed(declared, name))
            start = time.perf_counter()
            host = new_host(emu)
            try:
                checked, _ = host.check(job.urn, {}, job.props)
                checked_at = time.perf_counter()
                host.create(job.urn, checked)
                done = time.perf_counter()
            finally:
                host.close()
            totals.append(done - start)
            checks.append(checked_at - start)
            creates.append(done - checked_at)
    finally:
        emu.clear_faults()
    return {
        "repeats": repeats,
        "to_first_create_s": round(statistics.median(totals), 4),
        "to_first_check_s": round(statistics.median(checks), 4),
        "first_create_s": round(statistics.median(creates), 4),
        "all_to_first_create_s": [round(t, 4) for t in totals],
    }


def _python_timing(prelude: str, timed: str) -> float:
    """Seconds ``timed`` takes in a fresh interpreter once ``prelude`` has run."""
    script = f"import time\n{prelude}\n_t = time.perf_counter()\n{timed}\nprint(time.perf_counter() - _t)\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=tempfile.gettempdir(), timeout=120)
    return float(out.stdout.strip().splitlines()[-1])


def _host_boot() -> float:
    """Seconds from spawning ``python -u -m pulumi.dynamic`` to its port line (the host is then ready)."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.dynamic"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=child_env(),
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
    ours = [_python_timing(HOST_IMPORTS, OUR_IMPORT) for _ in range(repeats)]
    boots = [_host_boot() for _ in range(repeats)]
    return {
        "repeats": repeats,
        "host_boot_s": round(statistics.median(boots), 4),
        "host_imports_s": round(statistics.median(host_only), 4),
        "our_import_s": round(statistics.median(ours), 4),
        "our_import_by_package_ms": _importtime_breakdown(),
    }


def _importtime_breakdown(top: int = 6) -> dict[str, float]:
    """``python -X importtime``: self time of the modules our import brings in, by top-level package (ms)."""
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", HOST_IMPORTS + OUR_IMPORT],
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir(), timeout=120)
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
    parser.add_argument("--parallel", type=int, default=16, help="calls in flight, as the engine's --parallel")
    parser.add_argument("--tenants", type=int, default=4, help="tenants the keys are spread over")
    parser.add_argument("--repeat", type=int, default=None, help="apply repeats; medians reported (default 3)")
    parser.add_argument("--cold-repeats", type=int, default=None, help="cold starts measured (default 5)")
    parser.add_argument("--quick", action="store_true", help="a fast smoke run (N=40, L=10 ms, 1 repeat)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline and the calibration")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args(argv)
    args.n = args.n or (40 if args.quick else 200)
    args.latency_ms = args.latency_ms if args.latency_ms is not None else (10.0 if args.quick else 20.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.cold_repeats = args.cold_repeats or (1 if args.quick else 5)
    if args.n < 1 or args.parallel < 1 or args.tenants < 1 or args.latency_ms < 0:
        parser.error("--n, --parallel and --tenants must be positive and --latency-ms >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    latency_s = args.latency_ms / 1000
    baseline = load_by_value()
    sizer = StateSizer()
    result: dict[str, Any] = {
        "params": {"n": args.n, "latency_ms": args.latency_ms, "parallel": args.parallel, "tenants": args.tenants,
                   "repeat": args.repeat, "host_workers": HOST_WORKERS},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
                    "pulumi": pulumi.__version__ if hasattr(pulumi, "__version__") else "",
                    "loadavg_start": _loadavg()},
    }
    with EmulatorProcess(latency_ms=args.latency_ms) as emu:
        with ImburseClient(emu.base_url, emu.public_key, emu.private_key, account_id=emu.account_id) as api:
            tenants = [api.create_tenant(f"bench tenant {i}").tenant_id for i in range(args.tenants)]
        creds = {"base_url": emu.base_url, "account_id": emu.account_id, "public_key": emu.public_key,
                 "private_key": emu.private_key}
        ours = [declare(partial(TenantKey, "key", tenant_id=t, roles=ROLES)) for t in tenants]
        naive = [declare(partial(baseline["BaselineTenantKey"], "key", t, ROLES, creds)) for t in tenants]
        null = [declare(partial(baseline["NullTenantKey"], "key", t, ROLES, latency_s)) for t in tenants]

        runs: dict[str, list[dict[str, Any]]] = {"ours": [], "baseline": [], "calibration": []}
        applied: dict[str, list[Applied]] = {}
        for r in range(args.repeat):
            names = [f"r{r}-key-{i}" for i in range(args.n)]
            plan = [("ours", ours)] + ([] if args.no_baseline else [("baseline", naive), ("calibration", null)])
            for label, decl in plan:
                figures, applied[label] = run_apply(emu, label, decl, names, args.parallel, latency_s)
                runs[label].append(figures)
                _progress(f"repeat {r + 1}/{args.repeat} {label}: wall {figures['wall_s']:.3f} s, "
                          f"floor/wall {figures['floor_over_wall']:.3f}")

        result["apply"] = _summarise(runs["ours"])
        result["apply"]["state"] = _state(sizer, ours[0], applied["ours"])
        if not args.no_baseline:
            result["baseline"] = _summarise(runs["baseline"])
            result["baseline"]["state"] = _state(sizer, naive[0], applied["baseline"])
            result["baseline"]["speedup_ours"] = round(statistics.median(
                b["wall_s"] / o["wall_s"] for b, o in zip(runs["baseline"], runs["ours"], strict=True)), 3)
            result["calibration"] = _summarise(runs["calibration"])
            result["apply"]["share_of_calibration"] = round(
                result["apply"]["floor_over_wall"] / result["calibration"]["floor_over_wall"], 3)
        _progress("no-op up")
        result["noop"] = run_noop(emu, applied["ours"], args.parallel)
        _progress("cold start")
        result["cold_start"] = run_cold_start(emu, ours[0], args.cold_repeats)
    result["cold_start"].update(run_import_share(max(3, args.cold_repeats)))
    cs = result["cold_start"]
    cs["our_import_share"] = round(cs["our_import_s"] / cs["to_first_create_s"], 3)
    result["machine"]["loadavg_end"] = _loadavg()
    result["goals"] = _goals(result)

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = json.dumps(result, indent=2, sort_keys=False) + "\n"
    (args.out / f"bench-{stamp}.json").write_text(text, encoding="utf-8")
    (args.out / "latest.json").write_text(text, encoding="utf-8")
    print(render(result))
    print(f"\nresults: {args.out / f'bench-{stamp}.json'}")
    return 0


def _summarise(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Medians over repeats (every repeat kept under ``runs``)."""
    walls = [r["wall_s"] for r in runs]
    ratios = [r["floor_over_wall"] for r in runs]
    per_key = [r["http_requests_per_key"] for r in runs]
    return {
        "wall_s": round(statistics.median(walls), 4),
        "floor_s": runs[0]["floor_s"],
        "floor_over_wall": round(statistics.median(ratios), 4),
        "floor_over_wall_best": round(max(ratios), 4),
        "http_requests_per_key": round(statistics.median(per_key), 4),
        "runs": list(runs),
    }


def _state(sizer: StateSizer, declared: Declared, applied: Sequence[Applied]) -> dict[str, Any]:
    provider = applied[0].checked.get("__provider", "")
    total = sum(sizer.size(declared, a.checked, a.outputs) for a in applied)
    return {
        "provider_bytes": len(provider),
        "provider_decoded_bytes": len(base64.b64decode(provider)) if provider else 0,
        "provider_secret": "__provider" in declared.secret_inputs,
        "resources": len(applied),
        "total_bytes": total,
        "bytes_per_resource": round(total / len(applied), 1),
    }


def _goals(result: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    apply = result["apply"]
    return {
        "floor_over_wall >= 0.85": {"value": apply["floor_over_wall"], "met": apply["floor_over_wall"] >= 0.85},
        "http_requests_per_key <= 1.02": {"value": apply["http_requests_per_key"],
                                          "met": apply["http_requests_per_key"] <= 1.02},
        "__provider <= 256 bytes": {"value": apply["state"]["provider_bytes"],
                                    "met": apply["state"]["provider_bytes"] <= 256},
        "no-op writes == 0": {"value": result["noop"]["writes"], "met": result["noop"]["writes"] == 0},
    }


def render(result: Mapping[str, Any]) -> str:
    """The short table printed at the end."""
    p, a, noop, cs = result["params"], result["apply"], result["noop"], result["cold_start"]
    rows = [
        ("1 apply (ours)", f"N={p['n']} L={p['latency_ms']:g} ms, {p['parallel']} in flight, {p['repeat']} repeat(s)"),
        ("  wall / floor", f"{a['wall_s']:.3f} s / {a['floor_s']:.3f} s"),
        ("  floor/wall", f"{a['floor_over_wall']:.3f} (best {a['floor_over_wall_best']:.3f}; goal >= 0.85)"),
        ("  HTTP requests/key", f"{a['http_requests_per_key']:.3f} (goal <= 1.02)"),
        ("  __provider", f"{a['state']['provider_bytes']} B (goal <= 256)"),
        ("  state, all keys",
         f"{a['state']['total_bytes'] / 1024:.1f} KiB ({a['state']['bytes_per_resource']:.0f} B/key)"),
    ]
    if "baseline" in result:
        b, c = result["baseline"], result["calibration"]
        rows += [
            ("  calibration", f"floor/wall {c['floor_over_wall']:.3f} with a create that only sleeps L "
                              f"(ours reaches {a['share_of_calibration']:.0%} of it)"),
            ("2 baseline (naive)", f"wall {b['wall_s']:.3f} s, floor/wall {b['floor_over_wall']:.3f}, "
                                   f"{b['http_requests_per_key']:.2f} HTTP requests/key"),
            ("  our speedup", f"{b['speedup_ours']:.2f}x"),
            ("  __provider", f"{b['state']['provider_bytes']} B (secret: {b['state']['provider_secret']}), "
                             f"ours {a['state']['provider_bytes']} B"),
            ("  state, all keys", f"{b['state']['total_bytes'] / 1024:.1f} KiB, "
                                  f"ours {a['state']['total_bytes'] / 1024:.1f} KiB"),
        ]
    rows += [
        ("3 no-op up", f"{noop['resources']} resources, diff {noop['diff_changes']}"),
        ("  API calls", f"writes {noop['writes']} (goal 0), reads {noop['reads']}, "
                        f"token exchanges {noop['token_exchanges']}"),
        ("  Check+Diff", f"{noop['check_diff_ms_per_resource']:.2f} ms/resource at {p['parallel']} in flight "
                         f"(p50 latency {noop['check_diff_latency_ms_p50']:.2f} ms)"),
        ("4 cold start", f"{cs['to_first_create_s']:.3f} s to the first Create "
                         f"(first Check {cs['to_first_check_s']:.3f} s)"),
        ("  host alone", f"{cs['host_boot_s'] * 1000:.0f} ms from spawn to its port line "
                         f"(its own imports {cs['host_imports_s'] * 1000:.0f} ms)"),
        ("  our import", f"{cs['our_import_s'] * 1000:.0f} ms ({cs['our_import_share']:.0%} of the cold start)"),
        ("  import by package", ", ".join(f"{k} {v:.0f} ms" for k, v in cs["our_import_by_package_ms"].items())),
    ]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    goals = "; ".join(f"{name}: {'met' if g['met'] else 'NOT met'}" for name, g in result["goals"].items())
    if (p["n"], p["latency_ms"]) != (200, 20):
        goals += " (the goals are set for N=200, L=20 ms)"
    return "\n".join([*lines, "", f"goals: {goals}",
                      f"load average start/end: {result['machine']['loadavg_start']} / "
                      f"{result['machine']['loadavg_end']}"])


def _loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
