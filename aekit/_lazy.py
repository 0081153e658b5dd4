"""Package namespaces whose names are imported on first use (PEP 562), so that importing a package is cheap:
``import aekit`` and ``aekit --help`` do not load PyTorch."""

from __future__ import annotations

from importlib import import_module


def lazy_exports(package: str, namespace: dict, exports: dict[str, str]):
    """The ``__getattr__`` and ``__dir__`` of package ``package`` (its ``globals()``: ``namespace``) that import each
    public name from the module ``exports`` gives for it, once."""

    def __getattr__(name: str):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(exports[name]), name)
        namespace[name] = value  # later lookups skip __getattr__
        return value

    def __dir__() -> list[str]:
        return sorted({*exports, *namespace.get("__all__", ())})

    return __getattr__, __dir__
