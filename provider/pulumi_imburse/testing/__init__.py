"""Test your own Imburse stacks offline: the real Pulumi CLI against the local Imburse emulator.

>>> from pulumi_imburse.testing import emulated_stack
>>> with emulated_stack("path/to/project", config={"tenants": {...}}) as s:     # doctest: +SKIP
...     result = s.stack.up()
...     result.summary.resource_changes                                            # {"create": 4}
...     s.stack.outputs()["privateKeys"].secret                                    # True

See :func:`emulated_stack` for the options and README.md ("Testing your own stacks offline").
"""

from __future__ import annotations

from .stacks import (
    DEFAULT_PASSPHRASE,
    EmulatedStack,
    PulumiCLINotFoundError,
    emulated_stack,
    project_program,
    set_config,
)

__all__ = [
    "DEFAULT_PASSPHRASE",
    "EmulatedStack",
    "PulumiCLINotFoundError",
    "emulated_stack",
    "project_program",
    "set_config",
]
