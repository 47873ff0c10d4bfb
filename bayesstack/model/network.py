"""The stacked GLM's forward pass, parameter names, shapes and dims.

``forward`` is the single implementation of the network: the builder calls it on pytensor
tensors, the geometry code on numpy arrays with leading sample dims ``(chain, draw, ...)`` and,
to differentiate η, on JAX arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np

from bayesstack.registry import ACTIVATIONS
from bayesstack.spec import Spec

#: Dim of the output layer's weights when the family has more than one output.
OUTPUT_DIM = "output"


def vector_output(spec: Spec) -> bool:
    """Whether the output weight ``W{L}`` is a vector (one output) rather than ``(n_{L-1}, k)``."""
    return len(spec.outputs) == 1


def mean_eta(spec: Spec, eta):
    """μ's linear predictor from :func:`forward`'s η: η itself, or its first output column."""
    return eta if vector_output(spec) else eta[..., 0]


def weight_names(spec: Spec) -> list[str]:
    """Names of the weights θ in layer order: ``W1, b1, W2, b2, ...`` (absent biases skipped)."""
    names = []
    for l in range(1, spec.n_layers + 1):
        names.append(f"W{l}")
        if spec.has_bias(l):
            names.append(f"b{l}")
    return names


def hidden_dim(l: int) -> str:
    """Name of the dim of hidden layer ``l``'s units."""
    return f"hidden{l}"


def param_dims(spec: Spec) -> dict[str, tuple[str, ...]]:
    """Dims of every weight: ``W{l}`` is (input dim, output dim).

    The output layer's weight is a vector and its bias a scalar, unless the family has more
    than one output: then they carry the ``output`` dim (:data:`OUTPUT_DIM`) last.
    """
    dims: dict[str, tuple[str, ...]] = {}
    last: tuple[str, ...] = () if vector_output(spec) else (OUTPUT_DIM,)
    for l in range(1, spec.n_layers + 1):
        d_in = "feature" if l == 1 else hidden_dim(l - 1)
        d_out: tuple[str, ...] = last if l == spec.n_layers else (hidden_dim(l),)
        dims[f"W{l}"] = (d_in, *d_out)
        if spec.has_bias(l):
            dims[f"b{l}"] = d_out
    return dims


def layer_sizes(spec: Spec, n_features: int) -> list[int]:
    """``[D, n_1, ..., n_depth]``: the input size of every weight layer."""
    return [n_features, *(layer.units for layer in spec.layers)]


def param_shapes(spec: Spec, n_features: int) -> dict[str, tuple[int, ...]]:
    """Shapes of every weight for ``n_features`` inputs."""
    sizes = {"feature": n_features, OUTPUT_DIM: len(spec.outputs)}
    sizes.update({hidden_dim(i): layer.units for i, layer in enumerate(spec.layers, start=1)})
    return {k: tuple(sizes[d] for d in dims) for k, dims in param_dims(spec).items()}


def n_weights(spec: Spec, n_features: int) -> int:
    """Number of scalar weights (the dimension of θ)."""
    return int(sum(np.prod(s, dtype=int) for s in param_shapes(spec, n_features).values()))


def forward(
    spec: Spec,
    params: Mapping[str, object],
    X,
    *,
    xp: Literal["numpy", "pytensor", "jax"] = "numpy",
    return_hidden: bool = False,
):
    """The output layer's linear predictor η at inputs ``X``.

    Parameters
    ----------
    spec : Spec
        The architecture.
    params : mapping
        ``W{l}``/``b{l}`` arrays; numpy arrays may have leading sample dims, e.g.
        ``W1`` of shape ``(chain, draw, D, H)``.
    X : array (N, D), pytensor tensor or JAX array
        Inputs, shared by all samples.
    xp : {"numpy", "pytensor", "jax"}
        Which array library the activations come from.
    return_hidden : bool
        Also return the list of hidden activations (each ``(..., N, n_l)``).

    Returns
    -------
    eta : array ``(..., N)``, or ``(..., N, k)`` for a family with ``k > 1`` outputs (column
        0 is μ's linear predictor, see :func:`mean_eta`)
    """
    h = X
    hidden = []
    vector = vector_output(spec)
    for l in range(1, spec.n_layers + 1):
        W = params[f"W{l}"]
        if not vector and l == spec.n_layers:  # k outputs: a matrix layer without activation
            eta = h @ W
            if spec.has_bias(l):
                eta = eta + params[f"b{l}"][..., None, :]
        elif l < spec.n_layers:
            z = h @ W
            if spec.has_bias(l):
                z = z + params[f"b{l}"][..., None, :]
            h = ACTIVATIONS[spec.layers[l - 1].activation].fn(xp)(z)
            hidden.append(h)
        else:
            eta = (h @ W[..., None])[..., 0]
            if spec.has_bias(l):
                eta = eta + params[f"b{l}"][..., None]
    return (eta, hidden) if return_hidden else eta


def flatten(params: Mapping[str, np.ndarray], spec: Spec, sample_ndim: int = 0) -> np.ndarray:
    """Concatenate the weights into θ vectors of shape ``(*sample_shape, P)`` in layer order."""
    names = weight_names(spec)
    lead = np.shape(params[names[0]])[:sample_ndim]
    return np.concatenate([np.reshape(params[n], (*lead, -1)) for n in names], axis=-1)


def unflatten(theta: np.ndarray, spec: Spec, n_features: int) -> dict[str, np.ndarray]:
    """Inverse of :func:`flatten`: split ``(..., P)`` into named weights."""
    out, start = {}, 0
    lead = theta.shape[:-1]
    for name, shape in param_shapes(spec, n_features).items():
        size = int(np.prod(shape, dtype=int))
        out[name] = theta[..., start : start + size].reshape((*lead, *shape))
        start += size
    return out
