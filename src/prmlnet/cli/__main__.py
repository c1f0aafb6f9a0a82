"""``python -m prmlnet.cli``: the command line."""

from . import main

main()
