"""``help()`` and IDEs show every input and output of the resources (issue 10 item 17)."""

from __future__ import annotations

import inspect
import pydoc

import pytest

from pulumi_imburse import Tenant, TenantArgs, TenantKey, TenantKeyArgs

pytestmark = pytest.mark.unit

CASES = [
    (TenantKey, TenantKeyArgs, ["tenant_id", "roles", "name", "keepers", "rotation_days", "adopt_public_key"],
     ["public_key", "private_key", "created_at", "account_id"]),
    (Tenant, TenantArgs, ["name", "address", "adopt_tenant_id"], ["tenant_id", "account_id"]),
]


@pytest.mark.parametrize(("resource", "args", "inputs", "outputs"), CASES, ids=["TenantKey", "Tenant"])
def test_help_shows_the_inputs_with_their_meaning_and_the_outputs(
        resource: type, args: type, inputs: list[str], outputs: list[str]) -> None:
    params = inspect.signature(resource).parameters
    assert list(params)[:3] == ["resource_name", "args", "opts"]
    for name in inputs:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, name
    required = {n for n in inputs if params[n].default is inspect.Parameter.empty}
    assert required == {n for n, p in inspect.signature(args.__init__).parameters.items()
                        if n != "self" and p.default is inspect.Parameter.empty}
    text = pydoc.render_doc(resource, renderer=pydoc.plaintext)
    for name in inputs:
        assert f":param {name}:" in text, name
    section = text.split("Outputs (``pulumi.Output``):", 1)[1]
    for name in outputs:
        assert f"{name}: pulumi.Output[" in section, name
