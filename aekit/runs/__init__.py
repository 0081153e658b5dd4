"""Runs: a run folder's files, its typed config, the ``Run`` object that opens it, and training into it.

``Run`` and ``RunConfig`` are imported on first use, so that the torch-free parts (``aekit.runs.presets``) stay
light for the command line's help.
"""

from importlib import import_module

_EXPORTS = {"Run": "aekit.runs.run", "RunConfig": "aekit.runs.config"}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aekit.runs' has no attribute {name!r}")
