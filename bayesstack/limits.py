"""Bounded work: a spec's size on its data, estimated and checked before any model is built.

An accepted spec can still be too large to fit: a stack of 300 one-unit layers compiled for
over 6 minutes at 15.7 GB resident, and a layer of 10^9 units never finished allocating.
:func:`check_size` estimates the size from the spec and the data's shape alone (integer
arithmetic, no allocation, microseconds) and refuses, in one line that names the number, the
limit and the override, a spec over any of these limits:

=====================  =========  ============================================================
limit                  default    why
=====================  =========  ============================================================
depth (hidden layers)  20         compile time and memory grow with depth (300 layers: > 6 min,
                                  15.7 GB); the deepest built-in spec has 2, and posterior
                                  geometry beyond a few layers is not what bayesstack studies
units per layer        4,096      the hidden activations are N x units x 8 bytes per chain and
                                  per copy the gradient keeps; wider layers also make the
                                  symmetry group (units! permutations) astronomically large
parameters             1,000,000  a gradient costs O(N x P) and every draw P x 8 bytes; the
                                  geometry analysis needs P x P Hessians (8 GB at P = 32,000),
                                  so a million is far past the models bayesstack is built for
largest intermediate   1 GiB      N x widest layer (or the features, if wider) x 8 bytes: one
                                  layer's activations, held several times by the gradient, per
                                  chain, with chains running in parallel
draw storage           4 GiB      chains x draws x (P + N) x 8 bytes: the posterior draws and
                                  the pointwise log-likelihood that LOO needs, held in memory
                                  and written to the run file
graph nodes            160        a proxy for compile size: per layer the weight and bias
                                  variables, hierarchical scales, the product, the sum and the
                                  activation, then the likelihood; 20 layers with biases and
                                  hierarchical priors give 152
=====================  =========  ============================================================

The override, ``allow_large=True`` in :func:`bayesstack.fit` (``--allow-large`` on the command
line), lifts all of them. It does not lift the hard caps, beyond which no machine can hold or
compile the model: in the spec itself (:data:`bayesstack.spec.MAX_DEPTH` = 1,000 hidden
layers, :data:`~bayesstack.spec.MAX_UNITS` = 1,000,000 units per layer,
:data:`~bayesstack.spec.MAX_HIDDEN_WEIGHTS` = 10^8 weights between hidden layers, refused
when the spec is read) and here, with the data: :data:`HARD_MAX_PARAMS` = 10^8 parameters
(800 MB per draw) and :data:`HARD_MAX_BYTES` = 1 TiB for the largest intermediate and for the
draws.

This module reads only the spec, the registry and numpy (for the data's shape): it can run
before PyMC is imported.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

import numpy as np

from bayesstack.errors import SizeError
from bayesstack.registry import FAMILIES
from bayesstack.spec import MAX_HIDDEN_WEIGHTS, Spec

log = logging.getLogger(__name__)

MAX_DEPTH = 20
MAX_UNITS = 4096
MAX_PARAMS = 1_000_000
MAX_INTERMEDIATE_BYTES = 2**30
MAX_DRAWS_BYTES = 4 * 2**30
MAX_GRAPH_NODES = 160

#: Limits that ``allow_large`` does not lift.
HARD_MAX_PARAMS = MAX_HIDDEN_WEIGHTS
HARD_MAX_BYTES = 2**40

OVERRIDE = "pass allow_large=True to fit() or --allow-large to `bayesstack fit` to fit it anyway"
_HARD = "even with allow_large=True or --allow-large"
_NUISANCE_FIELD = {"sigma": "noise", "nu": "nu", "alpha": "dispersion"}


@dataclass(frozen=True)
class SizeEstimate:
    """A spec's size on data of ``n_obs`` rows and ``n_features`` columns.

    ``chains``, ``draws`` and ``draws_bytes`` are ``None`` when chains and draws are not known.
    """

    n_obs: int
    n_features: int
    depth: int
    widest: int
    n_params: int
    intermediate_bytes: int
    draws_bytes: int | None
    graph_nodes: int
    chains: int | None = None
    draws: int | None = None

    def to_dict(self) -> dict:
        """Plain dict of the estimate."""
        return asdict(self)


def estimate(
    spec: Spec, n_obs: int, n_features: int, *, chains: int | None = None, draws: int | None = None
) -> SizeEstimate:
    """Estimate the size of ``spec`` on data of shape ``(n_obs, n_features)``.

    Parameters
    ----------
    spec : Spec
        The model spec.
    n_obs, n_features : int
        The data's shape.
    chains, draws : int, optional
        Chains and kept draws per chain, for the draw storage.

    Returns
    -------
    SizeEstimate
        Parameter count (weights, biases, hierarchical scales and the family's noise
        parameters), bytes of the largest intermediate and of the draws, and graph nodes.
    """
    sizes = [n_features, *(layer.units for layer in spec.layers), len(spec.outputs)]
    n_params, nodes = 0, 2  # the data X and y
    for l in range(1, spec.n_layers + 1):
        n_in, n_out = sizes[l - 1], sizes[l]
        n_params += n_in * n_out
        nodes += 2  # the weight variable and the product
        tensors = [spec.weight_prior(l)]
        if spec.has_bias(l):
            n_params += n_out
            nodes += 2  # the bias variable and the sum
            tensors.append(spec.bias_prior(l))
        taus = sum(p.dist == "hierarchical" for p in tensors)
        n_params, nodes = n_params + taus, nodes + taus
        nodes += l < spec.n_layers  # the activation
    for name in FAMILIES[spec.family].nuisance:
        if getattr(spec, _NUISANCE_FIELD[name]).dist != "fixed":
            n_params, nodes = n_params + 1, nodes + 1
    nodes += 2  # the inverse link and the likelihood
    widest = max([n_features, *(layer.units for layer in spec.layers)])
    stored = None
    if chains is not None and draws is not None:
        stored = chains * draws * (n_params + n_obs) * 8
    return SizeEstimate(
        n_obs=n_obs,
        n_features=n_features,
        depth=spec.depth,
        widest=widest,
        n_params=n_params,
        intermediate_bytes=n_obs * widest * 8,
        draws_bytes=stored,
        graph_nodes=nodes,
        chains=chains if stored is not None else None,
        draws=draws if stored is not None else None,
    )


def data_shape(X) -> tuple[int, int]:
    """``(n_obs, n_features)`` of array-like ``X``; ``(1, 1)`` where it has no 2-D shape.

    The data checks of the builder report a malformed ``X``; here it only must not fail.
    """
    try:
        shape = tuple(int(s) for s in (getattr(X, "shape", None) or np.shape(X)))
    except (ValueError, TypeError):  # ragged nested lists, objects without a shape
        return 1, 1
    if len(shape) != 2:
        return (shape[0] if shape else 1), 1
    return shape[0], shape[1]


def check_size(
    spec: Spec,
    X,
    *,
    chains: int | None = None,
    draws: int | None = None,
    allow_large: bool = False,
) -> SizeEstimate:
    """Refuse ``spec`` on data ``X`` if it is over a limit (see the module docstring).

    Parameters
    ----------
    spec : Spec
        The model spec.
    X : array-like (N, D) or DataFrame
        The features (only their shape is read).
    chains, draws : int, optional
        Chains and kept draws per chain.
    allow_large : bool
        Lift the limits (not the hard caps).

    Returns
    -------
    SizeEstimate
        The estimate, when the spec is within the limits.

    Raises
    ------
    SizeError
        One line naming the number, the limit and the override.
    """
    size = estimate(spec, *data_shape(X), chains=chains, draws=draws)
    log.debug("size of %s: %s", spec.name, size)
    _check_hard(size)
    if not allow_large:
        _check_soft(spec, size)
    return size


def _check_hard(size: SizeEstimate) -> None:
    if size.n_params > HARD_MAX_PARAMS:
        raise SizeError(
            f"parameters: {size.n_params} on {size.n_features} features is more than any "
            f"machine can fit (at most {HARD_MAX_PARAMS}, {_HARD})"
        )
    for what, n, fix in (
        ("largest intermediate", size.intermediate_bytes, "use less data or narrower layers"),
        ("draws", size.draws_bytes, "use fewer draws or chains"),
    ):
        if n is not None and n > HARD_MAX_BYTES:
            raise SizeError(
                f"memory: the {what} would take {_bytes(n)}, more than any machine holds "
                f"(at most {_bytes(HARD_MAX_BYTES)}, {_HARD}); {fix}"
            )


def _check_soft(spec: Spec, size: SizeEstimate) -> None:
    if size.depth > MAX_DEPTH:
        raise SizeError(
            f"depth: {size.depth} hidden layers is over the limit of {MAX_DEPTH} (compile time "
            f"and memory grow with depth); {OVERRIDE}"
        )
    for i, layer in enumerate(spec.layers, start=1):
        if layer.units > MAX_UNITS:
            raise SizeError(
                f"layers[{i}].units: {layer.units} units is over the limit of {MAX_UNITS} per "
                f"layer; {OVERRIDE}"
            )
    if size.n_params > MAX_PARAMS:
        raise SizeError(
            f"parameters: {size.n_params} on {size.n_features} features is over the limit of "
            f"{MAX_PARAMS}; {OVERRIDE}"
        )
    if size.intermediate_bytes > MAX_INTERMEDIATE_BYTES:
        raise SizeError(
            f"memory: the largest intermediate, {size.n_obs} observations x {size.widest} "
            f"units x 8 bytes = {_bytes(size.intermediate_bytes)}, is over the limit of "
            f"{_bytes(MAX_INTERMEDIATE_BYTES)}; {OVERRIDE}"
        )
    if size.draws_bytes is not None and size.draws_bytes > MAX_DRAWS_BYTES:
        raise SizeError(
            f"draws: {size.chains} chains x {size.draws} draws x ({size.n_params} parameters + "
            f"{size.n_obs} log-likelihood values) x 8 bytes = {_bytes(size.draws_bytes)} is over "
            "the limit of "
            f"{_bytes(MAX_DRAWS_BYTES)}; use fewer draws or chains, or {OVERRIDE}"
        )
    if size.graph_nodes > MAX_GRAPH_NODES:
        raise SizeError(
            f"graph: about {size.graph_nodes} nodes to compile is over the limit of "
            f"{MAX_GRAPH_NODES}; {OVERRIDE}"
        )


def _bytes(n: int) -> str:
    """``n`` bytes in MiB, GiB or TiB."""
    if n >= 2**60:  # beyond a float's reach for the largest
        return f"about 2**{n.bit_length() - 1} bytes"
    for unit, size in (("TiB", 2**40), ("GiB", 2**30)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n / 2**20:.1f} MiB"
