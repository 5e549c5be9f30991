"""Inputs refused at preview, before any API request (issue 17): the base URL and the text of names.

``baseUrl`` must be ``https://`` (or ``http://`` to this machine, for the emulator) with no ``user:password@``; the
refusal names where the value came from: an explicit provider's input, stack config ``imburse:baseUrl`` or the
environment variable ``IMBURSE_BASE_URL``. Key and tenant names refuse control characters, bidirectional
overrides/isolates and surrounding spaces. Through the real CLI, both faces; the emulator counts 0 requests.
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pytest
from pulumi import automation as auto

from pulumi_imburse import Tenant, TenantKey
from pulumi_imburse.emulator.process import EmulatorProcess
from pulumi_imburse.testing import emulated_stack

from ..engine import Output
from ..plugin import native

READ = "tenant-app-read"
TENANT = "88fdb12a-14dc-419c-b74c-422e2c25cfe7"
BAD_URLS = ("file:///etc/passwd", "http://metadata.invalid/", "https://user:hunter2@imburse.invalid")


def requests(emulator: EmulatorProcess) -> int:
    return sum(emulator.stats()["requests"].values())


def refused_at_preview(emulator: EmulatorProcess, program: Callable[[], None], *, config: dict[str, str] | None = None,
                       env: dict[str, str] | None = None, drop_base_url: bool = False) -> str:
    """Preview ``program``; assert it fails with 0 API requests; the CLI's output."""
    with emulated_stack(program, project_name="preview-refusals", emulator=emulator, env=env) as s:
        if drop_base_url:
            s.stack.remove_config("imburse:baseUrl")
        if config:
            s.set_config(config)
        before = requests(emulator)
        out = Output()
        with pytest.raises(auto.CommandError):
            s.stack.preview(on_output=out)
        assert requests(emulator) == before
        assert "Traceback" not in out.text
        return out.text


def dynamic_key() -> None:
    TenantKey("ci", tenant_id=TENANT, roles=[READ])


def native_key() -> None:
    native.tenant_key("ci", tenantId=TENANT, roles=[READ])


@pytest.mark.parametrize("url", BAD_URLS)
@pytest.mark.parametrize("face", ["dynamic", "plugin"])
def test_a_bad_base_url_in_stack_config_fails_at_preview(emulator: EmulatorProcess, face: str, url: str) -> None:
    text = refused_at_preview(emulator, dynamic_key if face == "dynamic" else native_key,
                              config={"imburse:baseUrl": url})
    assert "stack config imburse:baseUrl must" in text
    assert "hunter2" not in text


@pytest.mark.parametrize("face", ["dynamic", "plugin"])
def test_a_bad_base_url_from_the_environment_fails_at_preview_naming_it(emulator: EmulatorProcess, face: str) -> None:
    text = refused_at_preview(emulator, dynamic_key if face == "dynamic" else native_key,
                              env={"IMBURSE_BASE_URL": "http://metadata.invalid/"}, drop_base_url=True)
    assert "environment variable IMBURSE_BASE_URL must be an https:// URL" in text


@pytest.mark.parametrize("url", BAD_URLS)
def test_an_explicit_providers_bad_base_url_fails_at_preview_naming_the_provider(emulator: EmulatorProcess,
                                                                                 url: str) -> None:
    def program() -> None:
        prov = native.provider("prod", base_url=url, public_key=emulator.public_key,
                               private_key=emulator.private_key)
        native.tenant_key("ci", pulumi.ResourceOptions(provider=prov), tenantId=TENANT, roles=[READ])

    text = refused_at_preview(emulator, program)
    assert "explicit provider 'prod' input baseUrl must" in text
    assert "stack config" not in text and "hunter2" not in text


NAMES = {"a newline": ("ci\nprod", "U+000A"), "a NUL": ("ci\x00", "U+0000"),
         "a bidi override": ("ci\u202eved", "U+202E"),
         "a bidi isolate": ("\u2066ci", "U+2066"), "surrounding spaces": (" ci ", "must not begin or end with spaces")}


@pytest.mark.parametrize("case", list(NAMES))
@pytest.mark.parametrize("face", ["dynamic", "plugin"])
def test_names_with_control_characters_bidi_controls_or_surrounding_spaces_fail_at_preview(
        emulator: EmulatorProcess, face: str, case: str) -> None:
    name, says = NAMES[case]

    def program() -> None:
        if face == "dynamic":
            Tenant("t", name=name)
            TenantKey("k", tenant_id=TENANT, roles=[READ], name=name)
        else:
            native.tenant("t", name=name)
            native.tenant_key("k", tenantId=TENANT, roles=[READ], name=name)

    text = refused_at_preview(emulator, program)
    assert "name must not" in text and says in text and "2 errored" in text  # the tenant and the key
