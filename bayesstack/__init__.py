"""bayesstack: stacked GLMs as PyMC models, and the evidence on whether they are linear models.

The layers, from the bottom: ``registry`` and ``spec`` (model specs, no PyMC), ``data``,
``model`` (the PyMC model), ``inference`` (fit, save, load), ``geometry`` and ``report``;
``cli`` and ``demo`` sit on top. Names load on first use, so ``import bayesstack`` stays cheap
(PyMC loads when a model is built or fitted).
"""

from bayesstack._lazy import lazy_exports
from bayesstack._version import __version__ as __version__

_EXPORTS = {
    "BayesstackError": "bayesstack.errors",
    "DataError": "bayesstack.errors",
    "SpecError": "bayesstack.errors",
    "Layer": "bayesstack.spec",
    "Output": "bayesstack.spec",
    "Prior": "bayesstack.spec",
    "Spec": "bayesstack.spec",
    "load_spec": "bayesstack.spec",
    "build_model": "bayesstack.model.builder",
    "fit": "bayesstack.inference.sampling",
    "FitSettings": "bayesstack.inference.settings",
    "model_from_run": "bayesstack.inference.io",
    "spec_of": "bayesstack.inference.io",
    "load": "bayesstack.inference.io",
    "save": "bayesstack.inference.io",
    "predict": "bayesstack.inference.prediction",
    "predict_summary": "bayesstack.inference.prediction",
    "raw_coefficients": "bayesstack.inference.runs",
    "attach_spec": "bayesstack.inference.runs",
    "preprocessing_of": "bayesstack.inference.runs",
    "Preprocessing": "bayesstack.data.preprocessing",
    "Dataset": "bayesstack.data.dataset",
    "from_csv": "bayesstack.data.dataset",
    "from_frame": "bayesstack.data.dataset",
    "list_datasets": "bayesstack.data.builtin",
    "load_dataset": "bayesstack.data.builtin",
    "summarize": "bayesstack.report.summary",
}
_SUBMODULES = ("data", "model", "inference", "geometry", "report")
__all__ = sorted([*_EXPORTS, "__version__"])
__getattr__, __dir__ = lazy_exports(
    __name__, {**_EXPORTS, **{m: f"bayesstack.{m}" for m in _SUBMODULES}}, globals()
)
