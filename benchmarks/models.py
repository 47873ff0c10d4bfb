"""Reference models for the benchmarks: teacher data, and the same network written by hand.

The hand-written versions (PyMC, numpyro, plain JAX) are what a careful user would write without
bayesstack: Normal(0, 1) weights and biases, a HalfNormal(1) noise scale, tanh hidden layers.
Their parameters have bayesstack's names and shapes, so draws and log densities compare directly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bayesstack.spec import Layer, Spec


@dataclass(frozen=True)
class BenchSize:
    """A benchmark model: ``n`` observations, ``d`` features, tanh ``hidden`` layers."""

    name: str
    n: int
    d: int
    hidden: tuple[int, ...]
    family: str = "gaussian"

    def spec(self) -> Spec:
        """The bayesstack spec (Normal(0, 1) priors, HalfNormal(1) noise)."""
        return Spec(
            f"bench-{self.name}", self.family, layers=tuple(Layer(h, "tanh") for h in self.hidden)
        )

    def data(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Data from a seeded teacher: the same architecture with N(0, 1) weights."""
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(self.n, self.d))
        h = X
        for units in self.hidden:
            h = np.tanh(h @ rng.normal(size=(h.shape[1], units)) + rng.normal(size=units))
        eta = h @ rng.normal(size=h.shape[1]) + rng.normal()
        if self.family == "bernoulli":
            return X, rng.binomial(1, 1.0 / (1.0 + np.exp(-eta))).astype("int64")
        return X, eta + 0.3 * rng.normal(size=self.n)


SIZES: dict[str, BenchSize] = {
    s.name: s
    for s in (
        BenchSize("a", 200, 2, (3,)),
        BenchSize("b", 1000, 5, (10,)),
        BenchSize("c", 1000, 5, (10, 10)),
        BenchSize("d", 5000, 10, (20,)),
        BenchSize("e", 1000, 10, (), "bernoulli"),
    )
}


# --- hand-written PyMC ------------------------------------------------------------------------
def hand_pymc(size: BenchSize, X: np.ndarray, y: np.ndarray):
    """The network written directly in PyMC (as in STACK_NOTES §1)."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = {"obs": np.arange(len(X)), "feature": [f"x{i}" for i in range(X.shape[1])]}
    coords.update({f"hidden{i}": np.arange(h) for i, h in enumerate(size.hidden, 1)})
    with pm.Model(coords=coords) as m:
        h = pm.Data("X", X, dims=("obs", "feature"))
        yd = pm.Data("y_data", y, dims="obs")
        d_in = "feature"
        for i, _ in enumerate(size.hidden, 1):
            W = pm.Normal(f"W{i}", 0, 1, dims=(d_in, f"hidden{i}"))
            b = pm.Normal(f"b{i}", 0, 1, dims=f"hidden{i}")
            h, d_in = pt.tanh(h @ W + b), f"hidden{i}"
        L = len(size.hidden) + 1
        eta = h @ pm.Normal(f"W{L}", 0, 1, dims=d_in) + pm.Normal(f"b{L}", 0, 1)
        if size.family == "bernoulli":
            pm.Bernoulli("y", logit_p=eta, observed=yd, dims="obs")
        else:
            pm.Normal("y", eta, pm.HalfNormal("sigma", 1.0), observed=yd, dims="obs")
    return m


# --- hand-written numpyro and JAX -------------------------------------------------------------
def hand_numpyro(size: BenchSize) -> Callable:
    """The network written directly in numpyro: ``model(X, y)``."""
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    def model(X, y=None):
        h = X
        for i, units in enumerate(size.hidden, 1):
            W = numpyro.sample(f"W{i}", dist.Normal(0, 1).expand([h.shape[1], units]).to_event(2))
            b = numpyro.sample(f"b{i}", dist.Normal(0, 1).expand([units]).to_event(1))
            h = jnp.tanh(h @ W + b)  # (N, units)
        L = len(size.hidden) + 1
        w = numpyro.sample(f"W{L}", dist.Normal(0, 1).expand([h.shape[1]]).to_event(1))
        eta = h @ w + numpyro.sample(f"b{L}", dist.Normal(0, 1))  # (N,)
        if size.family == "bernoulli":
            numpyro.sample("y", dist.Bernoulli(logits=eta), obs=y)
        else:
            numpyro.sample(
                "y", dist.Normal(eta, numpyro.sample("sigma", dist.HalfNormal(1.0))), obs=y
            )

    return model


def hand_jax_logp(size: BenchSize, X: np.ndarray, y: np.ndarray, shapes: dict) -> Callable:
    """Plain-JAX log density (Jacobian included) of a flat unconstrained vector.

    The vector is laid out as ``shapes`` (value-variable name -> shape, in PyMC's order).
    """
    import jax.numpy as jnp

    Xj, yj = jnp.asarray(X), jnp.asarray(y, dtype="float64")
    sizes = {k: int(np.prod(s)) for k, s in shapes.items()}

    def logp(theta):
        p, i = {}, 0
        for k, s in shapes.items():
            p[k] = theta[i : i + sizes[k]].reshape(s)
            i += sizes[k]
        lp = sum(-0.5 * jnp.sum(v**2) for k, v in p.items() if k[0] in "Wb")
        h = Xj
        for i in range(1, len(size.hidden) + 1):
            h = jnp.tanh(h @ p[f"W{i}"] + p[f"b{i}"])
        L = len(size.hidden) + 1
        eta = h @ p[f"W{L}"] + p[f"b{L}"]
        if size.family == "bernoulli":
            return lp + jnp.sum(yj * eta - jnp.logaddexp(0.0, eta))
        s = p["sigma_log__"]
        sigma = jnp.exp(s)
        lp = lp - 0.5 * sigma**2 + s  # HalfNormal(1) and the log-Jacobian
        return lp + jnp.sum(-0.5 * ((yj - eta) / sigma) ** 2) - len(yj) * s

    return logp


# --- the floor: one compiled log density and gradient, outside any sampler --------------------
def _best(fn: Callable, seconds: float) -> float:
    fn()
    best, t_end = np.inf, time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > t_end:
            return best


def floor_numba(compiled, x: np.ndarray, seconds: float = 0.5, loop: int = 50) -> float:
    """Seconds per log density + gradient of a ``nutpie`` numba model, in a compiled loop."""
    import numba

    fn = compiled.logp_func.vm.jit_fn
    shared = [v.get_value() for v in compiled.logp_func.get_shared()]

    @numba.njit
    def run(x, k, *shared):
        acc = 0.0
        for _ in range(k):
            lp, g = fn(x, *shared)
            acc += lp[()]
            x[0] += 1e-300 * g[0]  # a data dependency, so that nothing is hoisted
        return acc

    xx = np.array(x, dtype="float64")
    return _best(lambda: run(xx, loop, *shared), seconds) / loop


def floor_jax(logp: Callable, x: np.ndarray, seconds: float = 0.5, loop: int = 50) -> float:
    """Seconds per log density + gradient of a JAX function of a flat vector, in a jitted loop."""
    import jax

    vg = jax.value_and_grad(logp)

    @jax.jit
    def run(theta):
        def body(_, carry):
            th, acc = carry
            lp, g = vg(th)
            return th + 1e-300 * g, acc + lp

        return jax.lax.fori_loop(0, loop, body, (theta, 0.0))

    xj = jax.numpy.asarray(x)
    return _best(lambda: jax.block_until_ready(run(xj)), seconds) / loop
