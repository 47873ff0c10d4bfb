"""The installed version of bayesstack (a leaf: every layer may read it)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bayesstack")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
