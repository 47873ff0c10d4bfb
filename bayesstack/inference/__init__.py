"""The fit layer: MCMC backends, fit settings, and runs (ArviZ DataTrees) saved and loaded."""

from bayesstack._lazy import lazy_exports

_EXPORTS = {
    "FitSettings": ".settings",
    "fit": ".sampling",
    "load": ".io",
    "save": ".io",
    "spec_of": ".io",
    "model_from_run": ".io",
    "predict": ".prediction",
    "predict_summary": ".prediction",
    "raw_coefficients": ".runs",
    "attach_spec": ".runs",
    "preprocessing_of": ".runs",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
