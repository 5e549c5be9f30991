"""Test-only: the provider's and urllib3's DEBUG logs on stderr, so the secret scan reads everything they say.

Put on PYTHONPATH of the provider host (and the program) by tests/faults/test_secrets.py.
"""

import logging
import sys

_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
for _name in ("pulumi_imburse", "urllib3"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(logging.DEBUG)
    _logger.addHandler(_handler)
