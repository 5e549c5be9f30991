"""Test-only: the provider's, urllib3's and the secret stores' libraries' (botocore, hvac) DEBUG logs on stderr, so
the secret scans read everything they say.

Put on PYTHONPATH of the provider host (and the program) by tests/faults/test_secrets.py and
tests/stores/test_destination_leaks.py.
"""

import logging
import sys

_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
for _name in ("pulumi_imburse", "urllib3", "botocore", "boto3", "hvac"):
    _logger = logging.getLogger(_name)
    _logger.setLevel(logging.DEBUG)
    _logger.addHandler(_handler)
