"""Lazy exports for package ``__init__`` modules: names load from their module on first use.

Importing a package stays cheap (no PyMC, ArviZ or JAX) until a name that needs them is used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(
    package: str, exports: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package`` that import each name on first use.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping of str to str
        Public name -> the module (relative to ``package`` when it starts with ``.``) that
        defines it; a name equal to its module's last component exports the module itself.
    namespace : dict
        The package's ``globals()``; a loaded name is cached there.
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = import_module(exports[name], package)
        # a subpackage exported under its own name is the module itself
        value = module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__
