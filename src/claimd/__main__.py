"""``python -m claimd`` is the ``claimd`` command."""

from claimd.entrypoints.cli import main

main()
