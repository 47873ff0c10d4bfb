"""The one compiled log density of the geometry: the density the sampler sees.

:class:`Density` holds ``model.logp()`` (Jacobian included) as a function of one flat vector
``x`` of every continuous value variable, in ``model.continuous_value_vars`` order: the
unconstrained space NUTS moves in (``sigma`` enters as ``sigma_log__``, ...). It gives the
value, the gradient and the full Hessian there, the positions of the weights θ in ``x``
(``network.weight_names`` order), and the conversion of posterior draws (constrained, as a run
stores them) to flat unconstrained vectors with each random variable's own PyMC transform
(``model.rvs_to_transforms[rv].forward``), vectorised over the draws.

Every part of the geometry uses it: the multi-start MAP maximises it (the mode the Laplace
approximation needs), the Hessian check takes its θ block, the mass estimates integrate it and
the report's mode paths evaluate it. The θ block of the Hessian is the same with or without
the Jacobian term, since the weights are unconstrained and the log-Jacobian depends only on
the transformed parameters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from bayesstack.errors import BayesstackError
from bayesstack.model.network import weight_names
from bayesstack.spec import Spec

#: PyTensor mode of tiny helper functions (transforms): numba's JIT would cost ~0.8 s each.
TINY = "FAST_COMPILE"


class Density:
    """The model's log density (Jacobian included) on flat unconstrained vectors.

    Parameters
    ----------
    model : pymc.Model
        A model built by :func:`bayesstack.build_model`.
    spec : Spec, optional
        Its spec; without it the weights are the free variables named ``W<l>``/``b<l>``, in
        the model's order.

    Attributes
    ----------
    names : list of str
        Value variables in the order of the flat vector (``"W1"``, ..., ``"sigma_log__"``).
    shapes : dict of str to tuple
        Their shapes.
    size : int
        Length of the flat vector.
    weight_index : int array (P,)
        Positions of the flat weights θ (``network.weight_names`` order) in the flat vector.
    nuisance : list of str
        The other free random variables (noise, scales), by random-variable name.
    n_weights : int
        ``P``.
    """

    def __init__(self, model, spec: Spec | None = None) -> None:
        import pytensor.tensor as pt
        from pymc.model.core import ValueGradFunction
        from pytensor.compile.mode import get_mode

        self.model = model
        ip = model.initial_point()
        values = model.continuous_value_vars
        self.names = [v.name for v in values]
        self.shapes = {n: tuple(np.shape(ip[n])) for n in self.names}
        sizes = {n: int(np.prod(self.shapes[n], dtype=int)) for n in self.names}
        offsets, start = {}, 0
        for n in self.names:
            offsets[n] = start
            start += sizes[n]
        self.size = start
        self._offsets, self._sizes = offsets, sizes
        to_value = {model.values_to_rvs[v].name: v.name for v in values}
        self._to_value = to_value
        if spec is not None:
            wn = weight_names(spec)
        else:
            wn = [rv.name for rv in model.free_RVs if re.fullmatch(r"[Wb]\d+", rv.name)]
        self.weight_index = np.concatenate(
            [offsets[to_value[n]] + np.arange(sizes[to_value[n]]) for n in wn]
        )
        self.n_weights = int(self.weight_index.size)
        self.nuisance = [rv.name for rv in model.free_RVs if rv.name not in wn]
        self._rv_names = [rv.name for rv in model.free_RVs]
        # JAX: compiles in about half numba's time and evaluates 2-3x faster
        # (docs/performance.md); shape asserts go before conversion, as in PyMC's JAX samplers
        self._vg = ValueGradFunction(
            [model.logp()],
            values,
            {},
            model=model,
            initial_point=ip,
            ravel_inputs=True,
            mode=get_mode("JAX").including("local_remove_all_assert"),
        )
        self._vg.set_extra_values({})
        self._hess = None
        outs = model.replace_rvs_by_values(model.free_RVs)  # constrained, from value vars
        self._constrain = model.compile_fn(outs, inputs=values, point_fn=False, mode=TINY)
        # constrained draws (leading sample axis) -> unconstrained, one function per transform
        self._forward = {}
        for rv in model.free_RVs:
            tr = model.rvs_to_transforms.get(rv)
            if tr is None:
                continue
            import pytensor

            c = pt.tensor(f"{rv.name}_c", dtype="float64", shape=(None,) * (rv.ndim + 1))
            out = tr.forward(c, *rv.owner.inputs)
            self._forward[rv.name] = pytensor.function(
                [c], out, on_unused_input="ignore", mode=TINY
            )

    # --- values ------------------------------------------------------------------------------
    def __call__(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        """Log density and gradient at the flat vector ``x``."""
        lp, g = self._vg(np.asarray(x, dtype=float))
        return float(lp), np.asarray(g)

    def logp(self, x: np.ndarray) -> np.ndarray:
        """Log density at every row of ``x (..., size)``."""
        x = np.asarray(x, dtype=float)
        flat = x.reshape(-1, x.shape[-1])
        return np.array([self(row)[0] for row in flat]).reshape(x.shape[:-1])

    def hessian(self, x: np.ndarray) -> np.ndarray:
        """The full ``(size, size)`` Hessian at ``x`` (compiled with PyTensor on first use)."""
        if self._hess is None:
            self._hess = self._compile_hessian()
        return np.asarray(self._hess(np.asarray(x, dtype=float)))

    def weight_hessian(self, x: np.ndarray) -> np.ndarray:
        """The ``(P, P)`` θ block of the Hessian at ``x`` (other parameters held fixed)."""
        H = self.hessian(x)
        return H[np.ix_(self.weight_index, self.weight_index)]

    def _compile_hessian(self):
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.replace import graph_replace

        x = pt.vector("x", dtype="float64")
        repl = {}
        for v in self.model.continuous_value_vars:
            o, s = self._offsets[v.name], self._sizes[v.name]
            repl[v] = x[o : o + s].reshape(self.shapes[v.name])
        cost = graph_replace(self.model.logp(), repl, strict=False)
        # the Jacobian of the gradient, vectorised: no scan (the scan of
        # pytensor.gradient.hessian logs a failed rewrite, and evaluates several times slower)
        grad = pytensor.grad(cost, x)
        return pytensor.function([x], pytensor.gradient.jacobian(grad, x, vectorize=True))

    # --- layouts -----------------------------------------------------------------------------
    def split(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as ``{value-var name: array}``."""
        x = np.asarray(x, dtype=float)
        return {
            n: x[self._offsets[n] : self._offsets[n] + self._sizes[n]].reshape(self.shapes[n])
            for n in self.names
        }

    def constrained(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The flat vector as constrained values, keyed by random-variable name."""
        point = self.split(x)
        values = self._constrain(*(point[n] for n in self.names))
        return {n: np.asarray(v) for n, v in zip(self._rv_names, values, strict=True)}

    def unconstrain(self, draws: Mapping[str, Any]) -> np.ndarray:
        """Constrained values of every free random variable -> flat vectors ``(..., size)``.

        Parameters
        ----------
        draws : mapping of str to array
            Keyed by random-variable name, each with the same leading sample dims (e.g.
            ``(chain, draw)`` or ``(K,)``, or none) and then the variable's own shape.

        Returns
        -------
        array (..., size)
            Each variable mapped by its own transform (``None``: unchanged).
        """
        missing = [n for n in self._rv_names if n not in draws]
        if missing:
            raise BayesstackError(f"density: no values given for {', '.join(missing)}")
        first = self._rv_names[0]
        core = self.shapes[self._to_value[first]]
        lead = np.shape(draws[first])[: np.ndim(draws[first]) - len(core)]
        n = int(np.prod(lead, dtype=int))
        x = np.empty((n, self.size))
        for name in self._rv_names:
            vname = self._to_value[name]
            v = np.asarray(draws[name], dtype=float).reshape(n, *self.shapes[vname])
            if name in self._forward:
                v = np.asarray(self._forward[name](v))
            o = self._offsets[vname]
            x[:, o : o + self._sizes[vname]] = v.reshape(n, -1)
        return x.reshape(*lead, self.size)

    def flat(self, theta: np.ndarray, nuisance: Mapping[str, Any] | None = None) -> np.ndarray:
        """Flat unconstrained vector(s) from weights and nuisance values.

        ``theta (..., P)`` are flat weights; ``nuisance`` holds constrained values with the
        same leading dims.
        """
        theta = np.asarray(theta, dtype=float)
        nuisance = dict(nuisance or {})
        missing = [n for n in self.nuisance if n not in nuisance]
        if missing:
            raise BayesstackError(f"density: no values given for {', '.join(missing)}")
        lead = theta.shape[:-1]
        x = np.empty((*lead, self.size))
        x[..., self.weight_index] = theta
        if self.nuisance:
            zeros = {n: np.zeros((*lead, *self.shapes[self._to_value[n]])) for n in self._rv_names}
            u = self.unconstrain({**zeros, **{n: nuisance[n] for n in self.nuisance}})
            mask = np.ones(self.size, dtype=bool)
            mask[self.weight_index] = False
            x[..., mask] = u[..., mask]
        return x

    def weights(self, x: np.ndarray) -> np.ndarray:
        """The flat weights θ of flat vector(s) ``x (..., size)``."""
        return np.asarray(x)[..., self.weight_index]

    def nuisance_values(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Constrained nuisance values of one flat vector."""
        c = self.constrained(x)
        return {n: c[n] for n in self.nuisance}


def posterior_flat(density: Density, ds) -> np.ndarray:
    """A posterior dataset's draws as flat unconstrained vectors ``(chain, draw, size)``.

    Parameters
    ----------
    density : Density
        The compiled density.
    ds : xarray.Dataset
        The run's ``posterior``, holding every free random variable (constrained).
    """
    missing = [n for n in density._rv_names if n not in ds]
    if missing:
        raise BayesstackError(f"run: posterior lacks {', '.join(missing)}")
    draws = {n: ds[n].transpose("chain", "draw", ...).values for n in density._rv_names}
    return density.unconstrain(draws)
