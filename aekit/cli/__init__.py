"""The ``aekit`` command line: ``main(argv)`` runs one command (tests call it directly)."""

from aekit.cli.app import main

__all__ = ["main"]
