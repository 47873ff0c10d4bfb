"""bayesstack: stacked GLMs as PyMC models, and the evidence on whether they are linear models.

Submodules load on first use, so ``import bayesstack`` stays cheap (PyMC loads when a model is
built or fitted).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bayesstack")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "BayesstackError": "bayesstack.errors",
    "DataError": "bayesstack.errors",
    "SpecError": "bayesstack.errors",
    "Layer": "bayesstack.spec",
    "Output": "bayesstack.spec",
    "Prior": "bayesstack.spec",
    "Spec": "bayesstack.spec",
    "load_spec": "bayesstack.spec",
    "build_model": "bayesstack.builder",
    "fit": "bayesstack.sampling",
    "model_of": "bayesstack.sampling",
    "spec_of": "bayesstack.io",
    "load": "bayesstack.io",
    "save": "bayesstack.io",
    "Dataset": "bayesstack.data",
    "from_csv": "bayesstack.data",
    "from_frame": "bayesstack.data",
    "list_datasets": "bayesstack.datasets",
    "load_dataset": "bayesstack.datasets",
}
_SUBMODULES = {"data", "datasets", "geometry", "report", "network", "summary", "io"}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return import_module(f"bayesstack.{name}")
    raise AttributeError(f"module 'bayesstack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
