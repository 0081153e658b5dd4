"""Runs: a run folder's files, its typed config, the ``Run`` object that opens it, and training into it.

``Run`` and ``RunConfig`` are imported on first use, so that the torch-free parts (``aekit.runs.presets``) stay
light for the command line's help.
"""

from aekit._lazy import lazy_exports

_EXPORTS = {"Run": "aekit.runs.run", "RunConfig": "aekit.runs.config"}

__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
