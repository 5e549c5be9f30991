"""``python -m pulumi_imburse.plugin``: the provider plugin, as the ``pulumi-resource-imburse`` console script runs it.

Also the entry point of the frozen (self-contained) plugin that ``make dist`` builds (scripts/plugin.spec).
"""

from pulumi_imburse.plugin.server import main

if __name__ == "__main__":
    main()
