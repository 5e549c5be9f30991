"""Adoption: a resource that takes over an existing tenant or key in ``create()`` instead of making one; and the
same rule for the provider plugin's imports (an import takes the object over as it is, or fails).

Pulumi's own ``import_`` cannot serve dynamic resources: the engine's import step calls the provider's Read
with the id only, and the Python dynamic-provider host needs ``__provider`` in the properties it gets
(pulumi/pulumi#16175). So ``Tenant(adopt_tenant_id=...)`` and ``TenantKey(adopt_public_key=...)`` name the
object to take over, and ``create()`` reads it instead of creating one, refusing (with no write) when it
differs from the declaration.

``adopt_*`` is a create-time instruction, honoured once, at the resource's first create. The engine gives
``create()`` only the checked inputs, and a replacement calls Check without old inputs, so the first create and
a replacement's create look the same to the provider. What tells them apart is that before a replacement of
an existing resource the engine calls Check with its old inputs (or Diff with its old outputs) in the same
provider process: the provider's :class:`~pulumi_imburse.ledger.Ledger` remembers those resources, and
``create()`` makes a new object for them. Its other record, what was adopted in this process, keeps a
replacement that took over the very object it replaces (``pulumi up --replace``, which calls neither Check with
old inputs nor Diff) from deleting it afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .errors import AdoptionError
from .ledger import AdoptionLedger
from .validation import Problem, check_guid
from .values import is_unknown

__all__ = ["IMPORT_MARK", "AdoptionError", "AdoptionLedger", "check_adopt_id", "differences", "import_problems",
           "imported_unreconciled", "refuse", "refuse_import_differences"]

IMPORT_MARK: Final = "__imported"
"""An input that only an import's Read returns (the imported object's id) and no declaration's Check ever does,
for resources whose declared inputs cannot tell an import from an accepted declaration (a ``Tenant``'s are its
live name and address).

The engine records an import (``import_`` with ``up --skip-preview``, as the Automation API runs it) before Diff
refuses it; inputs carrying the mark came straight from such an import and no declaration has been accepted since,
so Check refuses a differing declaration on every run until one matches (the engine then stores the checked
inputs, without the mark). A refresh keeps it (Read returns it again when the prior state has it). Pulumi hides
``__``-prefixed properties from diffs and policy packs, and ``pulumi import`` generates code only for the schema's
inputs, so the mark is seen only in ``pulumi stack export``."""


def imported_unreconciled(old_inputs: Mapping[str, Any], *, named_by: str | None = None) -> bool:
    """Whether ``old_inputs`` came straight from an import and no declaration has been accepted since: the one
    rule by which every resource type recognises an import in its old inputs.

    They carry :data:`IMPORT_MARK` (what a ``Tenant``'s Read returns for an import); or, for a type whose every
    accepted declaration carries the input ``named_by`` (the resource name, ``namePrefix``, which the constructor
    or the plugin sets), they are not empty and lack it: an import's Read returns only what the service holds. Key
    types keep that second sign rather than the mark because the states of keys imported and refused before the
    mark existed carry no mark, and must still be refused.
    """
    prior = {k: v for k, v in old_inputs.items() if k != "__provider"}
    if prior.get(IMPORT_MARK):
        return True
    return named_by is not None and bool(prior) and named_by not in prior


def check_adopt_id(prop: str, value: object) -> list[Problem]:
    """An optional ``adopt*`` input: absent, or a GUID. Its value is never shown (it may come from a secret)."""
    return [] if value is None else check_guid(prop, value, show_value=False)


def differences(pairs: Iterable[tuple[str, object, object]]) -> list[str]:
    """``"<what>: live <x>, declared <y>"`` for every ``(what, live, declared)`` that differ."""
    return [f"{what}: live {live!r}, declared {declared!r}" for what, live, declared in pairs if live != declared]


def refuse(what: str, diffs: Sequence[str], hint: str, *, verb: str = "adopt") -> AdoptionError:
    """The error of an adoption (or import) refused because the live object differs from the declaration."""
    return AdoptionError(f"cannot {verb} {what}: it differs from the declaration ({'; '.join(diffs)}). Nothing "
                         f"was changed. {hint}")


def refuse_import_differences(what: str, pairs: Iterable[tuple[str, object, object]], hint: str) -> None:
    """Refuse (raise :class:`AdoptionError`) an import whose declaration differs from the live object.

    The engine (v3.274) imports a resource declared with ``import_`` and then updates it to the declaration.
    Like an adoption, an import takes an object over as it is: Diff calls this for a resource imported in this
    deployment with ``(what, live, declared)`` for every property the service holds, so a difference fails the
    preview (and an ``up``) before anything is written. Values not known yet (preview) are not compared.
    """
    problems = import_problems(what, pairs, hint)
    if problems:
        raise AdoptionError(problems[0].reason)


def import_problems(what: str, pairs: Iterable[tuple[str, object, object]], hint: str) -> list[Problem]:
    """Check's form of :func:`refuse_import_differences`: the refusal as one problem, on the first property (its
    top-level name: ``address`` for ``address.locality``) that differs; none when the declaration matches."""
    known = [(w, live, declared) for w, live, declared in pairs if not is_unknown(declared)]
    diffs = differences(known)
    if not diffs:
        return []
    first = next(w for w, live, declared in known if live != declared)
    return [Problem(first.split(".")[0], str(refuse(what, diffs, hint, verb="import")))]
