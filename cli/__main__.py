"""``python -m cli`` runs the ``kb`` command line."""

from cli.main import main

main()
