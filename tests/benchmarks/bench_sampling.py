"""Benchmarks of the NUTS backends: the gradient floors (pytest-benchmark) and the full table.

pytest-benchmark, one log density + gradient per size and route (never a timed assertion):

    .venv/bin/pytest tests/benchmarks/bench_sampling.py --benchmark-enable

The full table of docs/performance.md (fits with every backend; same as ``python -m
bayesstack.bench``):

    .venv/bin/python tests/benchmarks/bench_sampling.py [--sizes a,b] [--quick] [--scaling]
"""

from __future__ import annotations

import numpy as np
import pytest

from bayesstack.benchmodels import SIZES


@pytest.fixture(scope="module", params=list(SIZES))
def model(request):
    from bayesstack.builder import build_model

    size = SIZES[request.param]
    X, y = size.data(0)
    return size, X, y, build_model(size.spec(), X, y)


def test_floor_numba(benchmark, model):
    """PyMC's numba graph (what nutpie runs), one evaluation per call."""
    import nutpie

    *_, m = model
    cm = nutpie.compile_pymc_model(m, backend="numba")
    fn = cm.logp_func.vm.jit_fn
    shared = [v.get_value() for v in cm.logp_func.get_shared()]
    x = np.random.default_rng(1).uniform(-1, 1, cm.n_dim)
    benchmark(fn, x, *shared)


@pytest.mark.parametrize("route", ["pymc-jax", "hand-jax"])
def test_floor_jax(benchmark, model, route):
    """The same PyMC graph converted to JAX (bayesstack's default route), and JAX by hand."""
    pytest.importorskip("jax")
    import jax

    from bayesstack.bench import _jax_model_logp, configure_jax
    from bayesstack.benchmodels import hand_jax_logp

    configure_jax(1)
    size, X, y, m = model
    logp, n_dim = _jax_model_logp(m)
    if route == "hand-jax":
        ip = m.initial_point()
        shapes = {v.name: np.shape(ip[v.name]) for v in m.value_vars}
        logp = hand_jax_logp(size, X, y, shapes)
    vg = jax.jit(jax.value_and_grad(logp))
    x = jax.numpy.asarray(np.random.default_rng(1).uniform(-1, 1, n_dim))
    benchmark(lambda: jax.block_until_ready(vg(x)))


if __name__ == "__main__":
    from bayesstack.bench import main

    main()
