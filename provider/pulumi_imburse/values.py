"""Plain-value rules every layer shares, with no Pulumi import: the engine's unknown values and ISO 8601 times.

The resources, the key rules (:mod:`pulumi_imburse.keys`) and the emulator all read and write timestamps; this is
the one place that parses and formats them.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Mapping
from typing import Any, Final

UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""The engine's sentinel for a value not known until apply (``pulumi.runtime.rpc.UNKNOWN``)."""


def is_unknown(value: Any) -> bool:
    """Whether ``value`` is (or contains) a value the engine does not know yet (preview).

    The host's Check and Diff deserialise with ``keep_unknowns``, so unknowns arrive as
    ``pulumi.output.Unknown`` objects; the wire sentinel string is accepted too. (Where the Pulumi SDK was never
    imported no such object can exist, so this module does not import it.)
    """
    output = sys.modules.get("pulumi.output")
    if output is not None and isinstance(value, output.Unknown):
        return True
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_unknown(v) for v in value)
    return False


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` or offset; naive means UTC), or ``None`` if it is not one."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.timezone.utc)


def format_time(when: dt.datetime, timespec: str = "auto") -> str:
    """``when`` in UTC as ISO 8601 with a ``Z`` (``timespec`` as :meth:`datetime.isoformat` takes it)."""
    return when.astimezone(dt.timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


def now() -> dt.datetime:
    """The current time, in UTC."""
    return dt.datetime.now(dt.timezone.utc)
