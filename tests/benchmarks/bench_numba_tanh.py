"""Why PyMC's numba graph is slow: the evidence behind docs/performance.md, in one process.

1. Per element, inside a numba loop: ``math.tanh`` (a libm call, never vectorised) against
   ``math.exp``, numpy's SIMD ``np.tanh`` and a plain add.
2. Per matrix product: numba's BLAS ``X @ W`` with 1 and 2 OpenBLAS threads, against numpy.
3. Per log density + gradient (compiled loops, one core): the builder's graph with ``tanh``
   against the same graph with ``tanh(z)`` written as ``2 * sigmoid(2 z) - 1``, in numba and
   in JAX, and the difference of their log densities.

Run:  .venv/bin/python tests/benchmarks/bench_numba_tanh.py [a b c d w100]
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np


def best(fn, seconds=0.5):
    fn()
    b, end = np.inf, time.perf_counter() + seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        fn()
        b = min(b, time.perf_counter() - t0)
    return b


def per_element():
    import numba

    @numba.njit
    def tanh_loop(x, out):
        for i in range(x.size):
            out[i] = math.tanh(x[i])

    @numba.njit
    def exp_loop(x, out):
        for i in range(x.size):
            out[i] = math.exp(x[i])

    @numba.njit
    def add_loop(x, out):
        for i in range(x.size):
            out[i] = x[i] + 1.0

    x = np.random.default_rng(0).normal(size=100_000)
    out = np.empty_like(x)
    print("ns per element (100 000 elements):")
    for name, f in [
        ("numba math.tanh", tanh_loop),
        ("numba math.exp", exp_loop),
        ("numba add", add_loop),
    ]:
        print(f"  {name:18s} {best(lambda f=f: f(x, out)) / x.size * 1e9:6.2f}")
    print(f"  {'numpy np.tanh':18s} {best(lambda: np.tanh(x, out=out)) / x.size * 1e9:6.2f}")


def matmul():
    import pytensor
    import pytensor.tensor as pt
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(5000, 10)), rng.normal(size=(10, 20))
    a, b = pt.dmatrix(), pt.dmatrix()
    fn = pytensor.function([a, b], a @ b, mode="NUMBA").vm.jit_fn
    print("µs per X @ W, X 5000x10, W 10x20:")
    for threads in (1, 2):
        with threadpool_limits(threads):
            print(f"  numba, {threads} BLAS thread(s) {best(lambda: fn(X, W)) * 1e6:8.1f}")
    print(f"  numpy               {best(lambda: X @ W) * 1e6:8.1f}")


def graphs(names):
    import pytensor.tensor as pt

    import bayesstack.network as net
    import bayesstack.registry as reg
    from bayesstack.bench import _jax_model_logp, configure_jax
    from bayesstack.benchmodels import SIZES, BenchSize, floor_jax, floor_numba
    from bayesstack.builder import build_model

    configure_jax(1)
    import nutpie

    sizes = dict(SIZES, w100=BenchSize("w100", 1000, 5, (100,)))
    original = reg.pytensor_activation

    def via_sigmoid(name):
        return (lambda z: 2.0 * pt.sigmoid(2.0 * z) - 1.0) if name == "tanh" else original(name)

    print("µs per log density + gradient: numba tanh | numba 2σ(2z)-1 | JAX tanh | JAX 2σ(2z)-1")
    for name in names:
        size = sizes[name]
        X, y = size.data(0)
        res, lps = [], []
        for act in (original, via_sigmoid):
            net.pytensor_activation = act
            try:
                model = build_model(size.spec(), X, y)
            finally:
                net.pytensor_activation = original
            cm = nutpie.compile_pymc_model(model, backend="numba")
            x = np.random.default_rng(1).uniform(-1, 1, cm.n_dim)
            logp, _ = _jax_model_logp(model)
            res.append((floor_numba(cm, x) * 1e6, floor_jax(logp, x) * 1e6))
            lps.append(float(logp(x)))
        (nt, jt), (ns, js) = res
        print(
            f"  {name:5s} {nt:8.1f} | {ns:8.1f} ({nt / ns:.2f}x) | {jt:8.1f} | {js:8.1f} "
            f"({jt / js:.2f}x) | |Δlogp| {abs(lps[0] - lps[1]):.1e} of {abs(lps[0]):.0f}"
        )


if __name__ == "__main__":
    per_element()
    matmul()
    graphs(sys.argv[1:] or ["a", "b", "c", "d", "w100"])
