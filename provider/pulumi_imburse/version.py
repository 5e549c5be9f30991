"""The version of pulumi-imburse: the one place it is written.

The wheel's metadata (``[tool.setuptools.dynamic]`` in pyproject.toml), ``pulumi_imburse.__version__``, the
plugin's schema and ``GetPluginInfo``, the generated SDKs (``pulumi package gen-sdk`` takes the schema's), the
release archives' names (``make dist``) and the policy pack's ``PulumiPolicy.yaml`` all take it from here;
tests/release/test_version.py checks that they agree. This module imports nothing, so setuptools reads it without
importing the package.
"""

__version__ = "0.1.0"
