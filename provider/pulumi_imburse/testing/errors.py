"""Errors raised by :class:`~pulumi_imburse.testing.StackRunner`, all under :class:`StackRunnerError`."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ImburseError


class StackRunnerError(ImburseError):
    """Base class of every error the offline stack runner raises.

    ``diagnostics`` holds the engine-style messages (and program errors) collected during the operation.
    """

    steps: list[tuple[str, str]]
    """The engine steps performed before the failure (``(op, urn)`` pairs), when raised by an operation."""
    provider_log: str
    """What the provider host printed, when raised by an operation."""
    stdout: str
    stderr: str

    def __init__(self, message: str, *, diagnostics: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.diagnostics = list(diagnostics)
        self.steps = []
        self.provider_log = ""
        self.stdout = ""
        self.stderr = ""


class ProjectError(StackRunnerError):
    """``Pulumi.yaml`` is missing or describes something the runner cannot run (e.g. a non-Python runtime)."""


class PassphraseError(StackRunnerError):
    """No passphrase was given for the state file's secrets, or it is the wrong one."""


class StateError(StackRunnerError):
    """The state file cannot be read or does not belong to this project and stack."""


class ProgramError(StackRunnerError):
    """The Pulumi program failed (an exception, or an error it logged)."""


class UnsupportedResourceError(StackRunnerError):
    """The program declared something the runner cannot run offline (a non-dynamic custom resource, an invoke...)."""


class CheckFailedError(StackRunnerError):
    """The provider's ``Check`` rejected a resource's inputs.

    ``failures`` lists ``(property, reason)`` pairs exactly as the provider returned them.
    """

    def __init__(self, message: str, *, urn: str, failures: Sequence[tuple[str, str]],
                 diagnostics: Sequence[str] = ()) -> None:
        super().__init__(message, diagnostics=diagnostics)
        self.urn = urn
        self.failures = list(failures)


class ProviderError(StackRunnerError):
    """A provider operation (Create, Update, Delete, Read, Diff...) failed; ``details`` holds the host's traceback."""

    def __init__(self, message: str, *, operation: str, urn: str, details: str = "",
                 diagnostics: Sequence[str] = ()) -> None:
        super().__init__(message, diagnostics=diagnostics)
        self.operation = operation
        self.urn = urn
        self.details = details


class ProviderHostError(StackRunnerError):
    """The ``python -m pulumi.dynamic`` provider host could not be started or stopped answering."""


class ProtectedResourceError(StackRunnerError):
    """A protected resource would have been deleted or replaced."""


class ResourceImportError(StackRunnerError):
    """An ``import_`` resource option could not be honoured."""
