"""The model layer: the stacked GLM's forward pass and its PyMC model."""

from bayesstack._lazy import lazy_exports

_EXPORTS = {
    "build_model": ".builder",
    "forward": ".network",
    "flatten": ".network",
    "unflatten": ".network",
    "param_dims": ".network",
    "param_shapes": ".network",
    "weight_names": ".network",
    "n_weights": ".network",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
