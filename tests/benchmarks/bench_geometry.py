"""Benchmark: canonicalisation and the full geometry analysis on a large synthetic run.

8 chains x 1000 draws of a two-hidden-layer tanh stack with 20 units per layer (D = 5,
N = 1000, Gaussian), made without MCMC: draws scattered around one point, each chain mapped by
its own random posterior group element (so every chain sits in a different symmetric image).

CPU time is printed beside wall time: on a busy machine it is the better guide.

Run:  .venv/bin/python tests/benchmarks/bench_geometry.py [--map-starts K] [--directions M]
      [--no-curvature]

The defaults (2 MAP starts, 50 curvature directions) keep the benchmark short; the library
defaults (20 starts, 1000 directions) cost about 3 s per MAP start and 40 ms per direction at
this size.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bayesstack.network import flatten, forward, param_shapes, weight_names
from bayesstack.spec import Layer, Spec

CHAINS, DRAWS, D, N, H = 8, 1000, 5, 1000, 20


def make_run(seed: int = 0):
    """The synthetic run and its spec."""
    from bayesstack.geometry.symmetry import apply, random_element
    from bayesstack.geometry.synthetic import run_from_draws

    rng = np.random.default_rng(seed)
    spec = Spec(
        name="bench-stack2-tanh20",
        family="gaussian",
        layers=(Layer(H, "tanh"), Layer(H, "tanh")),
    )
    X = rng.normal(size=(N, D))
    centre = {k: rng.normal(size=s) for k, s in param_shapes(spec, D).items()}
    sigma = 0.3
    y = forward(spec, centre, X) + sigma * rng.normal(size=N)
    draws = {
        k: v + 0.05 * rng.normal(size=(CHAINS, DRAWS, *np.shape(v))) for k, v in centre.items()
    }
    g = random_element(spec, rng=rng, size=(CHAINS, 1))
    draws = {k: v for k, v in apply(spec, draws, g).items() if k in centre}
    draws["sigma"] = sigma * np.exp(0.03 * rng.normal(size=(CHAINS, DRAWS)))
    eta = forward(spec, draws, X)
    resid = (y - eta) / draws["sigma"][..., None]
    loglik = -0.5 * resid**2 - np.log(draws["sigma"][..., None]) - 0.5 * np.log(2 * np.pi)
    theta = flatten({k: draws[k] for k in weight_names(spec)}, spec, 2)
    logp = loglik.sum(-1) - 0.5 * (theta**2).sum(-1)
    run = run_from_draws(spec, X, y, draws, logp=logp, log_likelihood=False)
    import xarray as xr

    run["log_likelihood"] = xr.DataTree(
        xr.Dataset(
            {"y": (("chain", "draw", "obs"), loglik)},
            coords={"chain": np.arange(CHAINS), "draw": np.arange(DRAWS), "obs": np.arange(N)},
        )
    )
    return spec, run


def main() -> None:
    """Print timings of canonicalisation and of the full analysis."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--map-starts", type=int, default=2)
    ap.add_argument("--directions", type=int, default=50, help="curvature directions")
    ap.add_argument("--no-curvature", action="store_true")
    args = ap.parse_args()

    from bayesstack.geometry import analyze
    from bayesstack.geometry.canonical import add_canonical

    t = time.perf_counter()
    _, run = make_run()
    print(f"setup (synthetic draws): {time.perf_counter() - t:.2f} s")
    for method in ("sort", "align"):
        t, c = time.perf_counter(), time.process_time()
        add_canonical(run, method=method)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        print(f"canonicalisation ({method}): {wall:.2f} s wall, {cpu:.2f} s CPU")
    t, c = time.perf_counter(), time.process_time()
    res = analyze(
        run,
        n_map_starts=args.map_starts,
        curvature=not args.no_curvature,
        curvature_directions=args.directions,
    )
    total, cpu = time.perf_counter() - t, time.process_time() - c
    print(
        f"full analysis: {total:.2f} s wall, {cpu:.2f} s CPU "
        f"(MAP starts {args.map_starts}, {args.directions} curvature directions)"
    )
    for k, v in res.timings.items():
        print(f"  {k:<18} {v:6.2f} s")
    d = res.to_dict()
    keys = ("rhat_max_raw", "rhat_max_canonical", "rhat_max_function", "modes_raw")
    keys += ("modes_canonical", "map_optima_raw", "hessian_negdef_fraction", "verdict")
    print({k: d[k] for k in keys})


if __name__ == "__main__":
    main()
