"""Test-only: ``kill -9`` of a provider process at a chosen moment of a create that delivers its key to a store.

Put on ``PYTHONPATH`` of the provider hosts by ``tests/stores/test_destination_kills.py``. With
``IMBURSE_TEST_KILL`` set, the first :meth:`pulumi_imburse.keys.deliver.Delivery.write` of the process named by
``IMBURSE_TEST_KILL_IN`` (``plugin``: ``pulumi-resource-imburse``; ``dynamic``: the dynamic provider host) kills it:

- ``before-store-write``: the key is made and named, its journal row has its public key, the store has nothing;
- ``after-store-write``: the key's document is the store's current version, the create has not answered, so the
  engine never records the key.

With ``IMBURSE_TEST_KILL_CLI=1`` the process kills its parent, the Pulumi CLI, first: the engine then never
records anything of the create (a pending create stays in the state).

Without ``IMBURSE_TEST_KILL`` nothing is imported or changed.
"""

import os
import signal
import sys

_POINT = os.environ.get("IMBURSE_TEST_KILL", "")

if _POINT in ("before-store-write", "after-store-write"):
    try:
        from pulumi_imburse.keys import deliver as _deliver
    except ImportError:  # a process without the provider (the program's host, the CLI's helpers)
        pass
    else:
        _write = _deliver.Delivery.write

        def _killing_write(self, key, *, tenant_id):  # type: ignore[no-untyped-def]
            face = "plugin" if sys.argv[0].endswith("pulumi-resource-imburse") else "dynamic"
            if face != os.environ.get("IMBURSE_TEST_KILL_IN"):
                return _write(self, key, tenant_id=tenant_id)
            if _POINT == "before-store-write":
                _kill()
            stored = _write(self, key, tenant_id=tenant_id)
            _kill()
            return stored

        def _kill() -> None:
            if os.environ.get("IMBURSE_TEST_KILL_CLI") == "1":
                os.kill(os.getppid(), signal.SIGKILL)  # the engine started this provider process
            os.kill(os.getpid(), signal.SIGKILL)

        _deliver.Delivery.write = _killing_write  # type: ignore[method-assign]
