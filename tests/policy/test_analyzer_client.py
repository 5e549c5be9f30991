"""``pulumi_imburse.testing.analyzer`` itself: how it starts a pack, what it sends, how it fails.

A probe pack written into ``tmp_path`` reports what its process saw (argv, working directory,
environment, stack config, stack tags, properties as the SDK decoded them), so the tests compare that
with what the engine would have given it.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pulumi_imburse.testing.analyzer import (
    UNKNOWN,
    PolicyConfigError,
    PolicyPackAnalyzer,
    PolicyPackError,
    PolicyPackStartError,
    ProviderResource,
    Secret,
    Unknown,
    make_urn,
    marshal_properties,
    stack_resource,
    urn_name,
)

PROBE = '''
import json, os, sys
from collections.abc import Mapping, Sequence
import pulumi
from pulumi_policy import (EnforcementLevel, PolicyConfigSchema, PolicyPack, ResourceValidationPolicy,
                           StackValidationPolicy)


def plain(v):
    if isinstance(v, Mapping):
        return {k: plain(v[k]) for k in v}
    if isinstance(v, Sequence) and not isinstance(v, str):
        return [plain(x) for x in v]
    return v


def report(args, report_violation):
    report_violation(json.dumps({
        "argv": sys.argv, "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in ("PULUMI_PROJECT", "PULUMI_STACK", "PULUMI_ORGANIZATION",
                                               "PULUMI_DRY_RUN", "PULUMI_CONFIG")},
        "config": pulumi.Config("app").get("region"),
        "tags": dict(args.stack_tags), "props": plain(args.props), "config_props": dict(args.get_config()),
        "name": args.name, "protect": args.opts.protect, "provider": args.provider.urn if args.provider else None,
    }), None)


def stack(args, report_violation):
    for r in args.resources:
        report_violation(json.dumps({"urn": r.urn, "parent": r.parent.urn if r.parent else None,
                                     "deps": {k: [d.urn for d in v] for k, v in r.property_dependencies.items()}}),
                         "urn:pulumi:elsewhere::p::t::x" if r.name == "stray" else r.urn)


PolicyPack(name="probe", enforcement_level=EnforcementLevel.ADVISORY, policies=[
    ResourceValidationPolicy(name="probe", description="reports what it saw", validate=report,
                             config_schema=PolicyConfigSchema({"limit": {"type": "integer", "default": 3}})),
    StackValidationPolicy(name="probe-stack", description="reports the stack", validate=stack),
])
'''


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("probe-pack")
    (d / "PulumiPolicy.yaml").write_text("runtime:\n  name: python\n  options:\n    virtualenv: venv\nversion: 2.1.0\n")
    (d / "__main__.py").write_text(textwrap.dedent(PROBE))
    return d


@pytest.fixture(scope="module")
def probe(probe_dir: Path) -> Iterator[PolicyPackAnalyzer]:
    with PolicyPackAnalyzer(probe_dir, {"probe": {"limit": 5}}, project="app", stack="prod", organization="acme-org",
                            dry_run=False, stack_config={"app:region": "eu-west-1", "app:nested": {"a": 1}},
                            stack_tags={"team": "payments"}) as analyzer:
        yield analyzer


def seen(probe: PolicyPackAnalyzer, props: dict[str, Any], **options: Any) -> dict[str, Any]:
    (d,) = probe.analyze(make_urn("prod", "app", "test:index:Thing", "thing"), "test:index:Thing", "thing", props,
                         **options)
    assert d.policy_name == "probe" and d.urn.endswith("::thing")
    return json.loads(d.message.split("\n", 1)[1])  # the SDK puts the description first


def test_the_pack_runs_as_the_engine_starts_it(probe: PolicyPackAnalyzer, probe_dir: Path) -> None:
    assert probe.running
    s = seen(probe, {})
    assert s["argv"][1:] == ["127.0.0.1:0", str(probe_dir)]  # pulumi.policy <engine> <program>
    assert s["cwd"] == str(probe_dir)
    assert s["env"]["PULUMI_PROJECT"] == "app" and s["env"]["PULUMI_STACK"] == "prod"
    assert s["env"]["PULUMI_ORGANIZATION"] == "acme-org" and s["env"]["PULUMI_DRY_RUN"] == "false"
    assert json.loads(s["env"]["PULUMI_CONFIG"]) == {"app:region": "eu-west-1", "app:nested": '{"a": 1}'}
    assert s["config"] == "eu-west-1"            # PULUMI_CONFIG reached pulumi.Config
    assert s["tags"] == {"team": "payments"}     # ConfigureStack reached the pack
    assert s["config_props"] == {"limit": 5}     # Configure, reconciled with the schema default


def test_properties_reach_the_pack_as_the_engine_marshals_them(probe: PolicyPackAnalyzer) -> None:
    provider_urn = make_urn("prod", "app", "pulumi:providers:pulumi-python", "default")
    s = seen(probe, {"a": 1, "s": Secret("hidden"), "n": {"x": [True, None]}, "__provider": "pickled"},
             protect=True, provider=ProviderResource(provider_urn, "pulumi:providers:pulumi-python"))
    # the SDK unwraps secrets for policies; __provider never reaches them; numbers are doubles
    assert s["props"] == {"a": 1.0, "s": "hidden", "n": {"x": [True, None]}}
    assert s["protect"] is True and s["provider"] == provider_urn and s["name"] == "thing"


def test_stack_diagnostics_name_a_stack_resource_or_the_root(probe: PolicyPackAnalyzer) -> None:
    root = make_urn("prod", "app", "pulumi:pulumi:Stack", "app-prod")
    parent = stack_resource(make_urn("prod", "app", "test:index:Thing", "a"), "test:index:Thing", {}, parent=root)
    child = stack_resource(make_urn("prod", "app", "test:index:Thing", "b"), "test:index:Thing", {}, parent=root,
                           property_dependencies={"x": [parent.urn], "y": []})
    stray = stack_resource(make_urn("prod", "app", "test:index:Thing", "stray"), "test:index:Thing", {})
    diagnostics = probe.analyze_stack([stack_resource(root, "pulumi:pulumi:Stack", {}), parent, child, stray])
    reports = {d.urn: json.loads(d.message.split("\n", 1)[1]) for d in diagnostics if not d.urn.endswith("stray")}
    assert reports[child.urn] == {"urn": child.urn, "parent": root, "deps": {"x": [parent.urn]}}
    stray_diag = next(d for d in diagnostics if "stray" in d.message)
    assert stray_diag.urn == root  # a URN outside the stack is reported against the root stack
    assert {d.policy_pack_version for d in diagnostics} == {"2.1.0"}  # PulumiPolicy.yaml wins


def test_close_interrupts_the_pack_and_it_shuts_down(probe_dir: Path) -> None:
    analyzer = PolicyPackAnalyzer(probe_dir)
    with analyzer:
        pid = analyzer.pid
        assert pid is not None and analyzer.running
    assert not analyzer.running and analyzer.pid is None
    assert analyzer.returncode == 0  # the SDK stops its server on SIGINT; it was not killed
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_marshal_properties_follows_the_engine() -> None:
    wire = marshal_properties({"__provider": "x", "n": 2, "s": Secret({"k": UNKNOWN}), "u": Unknown("array"),
                               "l": (1, "a")})
    assert wire == {
        "n": 2.0,
        "s": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
              "value": {"k": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}},
        "u": "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",
        "l": [1.0, "a"],
    }
    with pytest.raises(TypeError):
        marshal_properties({"x": object()})


def test_urns() -> None:
    urn = make_urn("dev", "p", "a:b:C", "name::with::colons", parent_type="my:comp:Parent")
    assert urn == "urn:pulumi:dev::p::my:comp:Parent$a:b:C::name::with::colons"
    assert urn_name(urn) == "name::with::colons"
    with pytest.raises(ValueError):
        urn_name("not-a-urn")


def test_unknown_policy_config_levels_are_rejected(probe: PolicyPackAnalyzer) -> None:
    with pytest.raises(PolicyConfigError, match="not a valid enforcement level"):
        probe.configure({"probe": {"enforcementLevel": "strict"}})
    with pytest.raises(PolicyConfigError, match="limit"):
        probe.configure({"probe": {"limit": 1.5}})


def test_a_pack_that_fails_to_start_reports_its_output(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('policy pack exploded on import')\n")
    with pytest.raises(PolicyPackStartError, match="exploded on import"), PolicyPackAnalyzer(tmp_path):
        pass


def test_a_pack_that_prints_no_port_in_time_is_stopped(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("import time\ntime.sleep(60)\n")
    analyzer = PolicyPackAnalyzer(tmp_path, start_timeout=0.5)
    with pytest.raises(PolicyPackStartError, match="printed no port"):
        analyzer.start()
    assert not analyzer.running


def test_only_python_packs_and_only_while_running(tmp_path: Path) -> None:
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: nodejs\n")
    with pytest.raises(PolicyPackError, match="nodejs"):
        PolicyPackAnalyzer(tmp_path)
    with pytest.raises(PolicyPackError, match=r"PulumiPolicy\.yaml"):
        PolicyPackAnalyzer(tmp_path / "missing")
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    with pytest.raises(PolicyPackError, match="not running"):
        PolicyPackAnalyzer(tmp_path).analyze("urn:pulumi:s::p::t::n", "t", "n", {})
