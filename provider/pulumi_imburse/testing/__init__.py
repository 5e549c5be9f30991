"""Offline testing support: run a Pulumi Python program end to end without the Pulumi CLI.

:class:`StackRunner` is a testing tool in the spirit of moto for boto3, **not** a replacement for the Pulumi
engine. It runs the program through the real Pulumi SDK against its own resource monitor, sends the program's
Python dynamic resources to a real ``python -m pulumi.dynamic`` provider host, keeps state in a JSON file with
encrypted secrets, and follows the engine's documented step rules. Anything that is not a dynamic resource
fails with a clear error; use the Pulumi CLI or the Automation API for real deployments.

>>> runner = StackRunner(work_dir, stack_name="dev", state_file="state.json",
...                      config={"imburse:baseUrl": url}, secret_config={"imburse:privateKey": key},
...                      passphrase="test")                                        # doctest: +SKIP
>>> result = runner.up()                                                          # doctest: +SKIP
>>> result.summary.resource_changes, result.outputs                               # doctest: +SKIP
>>> runner.preview(policy_packs=["policy"]).policy_violations                     # doctest: +SKIP
"""

from __future__ import annotations

from pulumi.automation import OutputValue

from .analyzer import Diagnostic
from .errors import (
    CheckFailedError,
    PassphraseError,
    PolicyPackRunError,
    PolicyViolationError,
    ProgramError,
    ProjectError,
    ProtectedResourceError,
    ProviderError,
    ProviderHostError,
    ResourceImportError,
    StackRunnerError,
    StateError,
    UnsupportedResourceError,
)
from .monitor import LogEntry
from .runner import (
    BaseResult,
    DestroyResult,
    PreviewResult,
    RefreshResult,
    ResourceChanges,
    StackRunner,
    StepRecord,
    UpdateSummary,
    UpResult,
)
from .state import ResourceState

__all__ = [
    "BaseResult",
    "CheckFailedError",
    "DestroyResult",
    "Diagnostic",
    "LogEntry",
    "OutputValue",
    "PassphraseError",
    "PolicyPackRunError",
    "PolicyViolationError",
    "PreviewResult",
    "ProgramError",
    "ProjectError",
    "ProtectedResourceError",
    "ProviderError",
    "ProviderHostError",
    "RefreshResult",
    "ResourceChanges",
    "ResourceImportError",
    "ResourceState",
    "StackRunner",
    "StackRunnerError",
    "StateError",
    "StepRecord",
    "UnsupportedResourceError",
    "UpResult",
    "UpdateSummary",
]
