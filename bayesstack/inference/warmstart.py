"""Warm starts by optimisation (``init="map"``): every chain samples from its own optimum.

Each chain's dispersed start (U(-2, 2) on the unconstrained scale, the same point
``init="uniform"`` uses) is optimised by L-BFGS (``optax.lbfgs`` with its zoom line search),
jit-compiled in JAX, on the density the sampler sees: the PyMC model's log density on the
unconstrained scale, Jacobian included (:func:`bayesstack.inference.jaxnuts.jaxify_model`).
The starts stay dispersed, so the chains still land in different symmetric images.

**Light optima.** When every chain has its optimum, an optimum more than :data:`LIGHT_NATS`
below the best one (or not finite) is dropped: that chain restarts from a new dispersed point
(seeded by its start seed and the restart number), at most :data:`MAX_RESTARTS` times; after
the last restart it keeps the best optimum it found. The rule compares chains, so with
``init="map"`` a chain's start depends on the other chains of the run (not on the cores, nor
on Dask: every task computes the same optima). A mode 20 nats below another of the same
width holds e^-20 ≈ 2e-9 of its mass: a chain sampling there all run would be wasted.

The run records every chain's optimum in the group ``warm_start``: ``lp`` (log density at
the optimum), ``restarts``, ``light`` (1 if still light after the last restart), ``n_iter``
(L-BFGS iterations of the kept optimisation), ``grad_norm`` (its final gradient norm), and
the optimum itself, one variable per value variable (unconstrained, e.g. ``sigma_log__``),
with dims ``(chain, ...)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayesstack.inference import jaxnuts

if TYPE_CHECKING:
    import pymc as pm
    import xarray as xr

#: An optimum this many nats below the best chain's is light: the chain restarts.
LIGHT_NATS = 20.0
#: Restarts per chain at most.
MAX_RESTARTS = 4
#: L-BFGS iterations at most, and the gradient norm at which it stops.
MAX_ITER = 2000
GTOL = 1e-6
GROUP = "warm_start"


@dataclass(frozen=True)
class Optimum:
    """One chain's optimum.

    Attributes
    ----------
    position : dict of str to array
        The optimum, unconstrained, keyed by value-variable name.
    lp : float
        The log density there (unconstrained, Jacobian included).
    restarts : int
        Dispersed restarts the chain took.
    light : bool
        Still more than :data:`LIGHT_NATS` below the best chain after the last restart.
    n_iter : int
        L-BFGS iterations of the kept optimisation.
    grad_norm : float
        Its final gradient norm.
    """

    position: dict[str, np.ndarray]
    lp: float
    restarts: int
    light: bool
    n_iter: int
    grad_norm: float


def _lbfgs_fn(logp_fn, _out_fn):
    import jax
    import jax.numpy as jnp
    import optax
    import optax.tree_utils as otu
    from jax.flatten_util import ravel_pytree

    def run(_key, start, data):
        flat0, unravel = ravel_pytree(start)

        def loss(x):
            return -logp_fn(*unravel(x), *data)[0]

        opt = optax.lbfgs()
        value_and_grad = optax.value_and_grad_from_state(loss)

        def step(carry):
            x, state = carry
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=loss)
            return optax.apply_updates(x, updates), state

        def going(carry):
            _, state = carry
            n = otu.tree_get(state, "count")
            g = otu.tree_norm(otu.tree_get(state, "grad"))
            return (n == 0) | ((n < MAX_ITER) & (g >= GTOL) & jnp.isfinite(g))

        x, state = jax.lax.while_loop(going, step, (flat0, opt.init(flat0)))
        lp, g = jax.value_and_grad(lambda v: -loss(v))(x)
        return unravel(x), lp, otu.tree_get(state, "count"), jnp.linalg.norm(g)

    return run


def optimizer(model: pm.Model, key: tuple) -> jaxnuts.ChainProgram:
    """The compiled L-BFGS program of ``model``: ``run(key, start, data)``.

    It returns ``(optimum, lp, iterations, gradient norm)``; ``start`` and the optimum are
    tuples in ``value_names`` order.
    """
    prog, _ = jaxnuts.compiled_program(model, ("lbfgs", MAX_ITER, GTOL, *key), _lbfgs_fn)
    return prog


def optimize(model: pm.Model, key: tuple, starts: Sequence[dict], cores: int = 1) -> list:
    """Optimise every start: ``(position dict, lp, iterations, gradient norm)`` per start."""
    import jax

    prog = optimizer(model, key)
    data = jaxnuts.data_arrays(model, prog.data_names)

    def one(z):
        z0 = tuple(np.asarray(z[n], dtype="float64") for n in prog.value_names)
        x, lp, n, g = prog.run(jax.random.key(0), z0, data)
        pos = {k: np.asarray(v) for k, v in zip(prog.value_names, x, strict=True)}
        lp = float(lp)
        return pos, lp if np.isfinite(lp) else -np.inf, int(n), float(g)

    with ThreadPoolExecutor(max_workers=max(1, cores)) as pool:
        return list(pool.map(one, starts))


def warm_starts(
    model: pm.Model,
    key: tuple,
    start_seeds: Sequence[int],
    make_starts: Callable[[list], list[dict]],
    *,
    cores: int = 1,
    light_nats: float = LIGHT_NATS,
    max_restarts: int = MAX_RESTARTS,
) -> tuple[list[Optimum], float]:
    """Every chain's optimum, with restarts from light optima, and the seconds it took.

    Parameters
    ----------
    model : pm.Model
        The model.
    key : tuple
        What identifies its graph (:func:`bayesstack.inference.backends.data_key`).
    start_seeds : sequence of int
        Every chain's start seed, in chain order.
    make_starts : callable
        Dispersed starts (dicts of unconstrained values) from a list of seeds, where a seed is
        an int or ``[start seed, restart]``
        (:func:`bayesstack.inference.backends.chain_starts` with ``"uniform"``).
    cores : int
        Optimisations running at once.
    light_nats, max_restarts
        The restart rule (module docstring).
    """
    t0 = time.perf_counter()
    starts = make_starts(list(start_seeds))
    found = optimize(model, key, starts, cores)
    best_of = list(found)  # best optimum of every chain over its tries
    restarts = [0] * len(found)
    for r in range(1, max_restarts + 1):
        top = max(f[1] for f in found)
        light = [c for c, f in enumerate(found) if not f[1] >= top - light_nats]
        if not light:
            break
        again = make_starts([[int(start_seeds[c]), r] for c in light])
        for c, f in zip(light, optimize(model, key, again, cores), strict=True):
            found[c], restarts[c] = f, r
            if f[1] > best_of[c][1]:
                best_of[c] = f
    top = max(f[1] for f in best_of)
    out = [
        Optimum(pos, lp, restarts[c], not lp >= top - light_nats, n, g)
        for c, (pos, lp, n, g) in enumerate(best_of)
    ]
    return out, time.perf_counter() - t0


def to_dataset(model: pm.Model, optima: Sequence[Optimum], seconds: float) -> xr.Dataset:
    """The ``warm_start`` group: every chain's optimum and how it was found."""
    import xarray as xr

    dims = {}
    for rv in model.free_RVs:
        dims[model.rvs_to_values[rv].name] = tuple(model.named_vars_to_dims.get(rv.name, ()))
    ds = xr.Dataset(
        {
            "lp": ("chain", np.array([o.lp for o in optima])),
            "restarts": ("chain", np.array([o.restarts for o in optima], dtype="int64")),
            "light": ("chain", np.array([o.light for o in optima], dtype="int8")),
            "n_iter": ("chain", np.array([o.n_iter for o in optima], dtype="int64")),
            "grad_norm": ("chain", np.array([o.grad_norm for o in optima])),
        },
        coords={"chain": np.arange(len(optima))},
    )
    for name, d in dims.items():
        val = np.stack([o.position[name] for o in optima])
        ds[name] = (("chain", *d), val)
    for d in {d for v in dims.values() for d in v}:
        ds.coords[d] = np.asarray(model.coords[d])
    ds.attrs.update(
        {
            "optimizer": "optax.lbfgs",
            "max_iter": MAX_ITER,
            "gtol": GTOL,
            "light_nats": LIGHT_NATS,
            "max_restarts": MAX_RESTARTS,
            "seconds": seconds,
        }
    )
    return ds
