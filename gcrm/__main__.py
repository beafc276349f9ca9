"""``python -m gcrm``: the command-line interface (see :mod:`gcrm.cli`)."""

from gcrm.cli import main

main()
