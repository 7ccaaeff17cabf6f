"""``python -m trailsmith.cli``: the same as the ``trailsmith`` command."""

from trailsmith.cli.app import main

main()
