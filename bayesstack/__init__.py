"""bayesstack: stacked GLMs as PyMC models, and the evidence on whether they are linear models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bayesstack")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

from bayesstack.builder import build_model
from bayesstack.errors import BayesstackError, DataError, SpecError
from bayesstack.io import load, save
from bayesstack.sampling import fit, model_of, spec_of
from bayesstack.spec import Layer, Output, Prior, Spec, load_spec

__all__ = [
    "BayesstackError",
    "DataError",
    "Layer",
    "Output",
    "Prior",
    "Spec",
    "SpecError",
    "__version__",
    "build_model",
    "fit",
    "load",
    "load_spec",
    "model_of",
    "save",
    "spec_of",
]
