"""Errors raised by :class:`~pulumi_imburse.testing.StackRunner`, all under :class:`StackRunnerError`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ImburseError

if TYPE_CHECKING:
    from .analyzer import Diagnostic
    from .runner import BaseResult


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


class PolicyPackRunError(StackRunnerError):
    """A policy pack given to ``preview``/``up`` could not be started, configured (its policy config is invalid
    or does not match the policies' schemas) or called; raised before the program runs when it cannot start."""


class PolicyViolationError(StackRunnerError):
    """A policy pack reported a mandatory violation, so the operation failed as the CLI's would.

    ``violations`` lists every violation of the failed run (advisory ones included, mandatory ones first);
    ``result`` is the operation's result when the run itself completed (a preview that found a mandatory
    violation, or an update whose final stack failed a stack policy after the changes were made), else ``None``
    (an update stopped at a resource that failed a resource policy). ``preview`` says whether the failed run
    was a preview (``pulumi preview``, or the preview ``pulumi up`` runs first).
    """

    def __init__(self, message: str, *, violations: Sequence[Diagnostic], preview: bool,
                 result: BaseResult | None = None, diagnostics: Sequence[str] = ()) -> None:
        super().__init__(message, diagnostics=diagnostics)
        self.violations = list(violations)
        self.preview = preview
        self.result = result

    @property
    def mandatory(self) -> list[Diagnostic]:
        """The mandatory violations (the ones that failed the run)."""
        return [v for v in self.violations if v.mandatory]
