"""Benchmark: canonicalisation and the full geometry analysis on a large synthetic run.

8 chains x 1000 draws of a tanh stack, made without MCMC: draws scattered around one point,
each chain mapped by its own random posterior group element (so every chain sits in a
different symmetric image). The default is the issue's size (c): D = 5, N = 1000, hidden
[10, 10], Gaussian (``--hidden 20,20`` for a larger one).

``--run PATH`` times a saved run instead (e.g. a real size-(c) fit of 8 x 1000 draws).

``--fit SIZE`` fits a benchmark size (``benchmarks.models.SIZES``) with ``bs.fit``'s defaults
(8 chains x 1000 draws after 1000 tuning steps, seed 0), then prints the analysis time as a ratio
of that fit's own time (the target is at most 0.15), and the analysis time on the first 250, 500
and 1000 draws of every chain, so that its growth in draws can be read off (linear or better).

CPU time is printed beside wall time: on a busy machine it is the better guide. The libraries
the analysis uses (JAX, PyTensor, PyMC, ArviZ) are imported before the clock starts, as they
are after the fit that made the run; their import time is printed separately.

Run:  .venv/bin/python -m benchmarks geometry [--hidden 10,10] [--run PATH] [--fit c]
      [--map-starts K] [--no-map-from-chains] [--directions M] [--no-curvature]
      [--hessian-budget B] [--max-cells C]

The defaults are the library's (MAP from each chain's best draw, no dispersed starts, the
curvature module's directions, the Hessian check's and the R-hats' budgets); the options trade
evidence for time.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bayesstack.model.network import flatten, forward, param_shapes, weight_names
from bayesstack.spec import Layer, Spec

CHAINS, DRAWS, D, N = 8, 1000, 5, 1000


def make_run(hidden: tuple[int, ...] = (10, 10), seed: int = 0):
    """The synthetic run and its spec."""
    from bayesstack.geometry.symmetry import apply, random_element
    from bayesstack.testing import run_from_draws

    rng = np.random.default_rng(seed)
    spec = Spec(
        name="bench-tanh-" + "-".join(map(str, hidden)),
        family="gaussian",
        layers=tuple(Layer(h, "tanh") for h in hidden),
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


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks geometry``."""
    ap.add_argument("--hidden", default="10,10", help="hidden units per layer")
    ap.add_argument("--run", default=None, help="a saved run to analyse instead")
    ap.add_argument("--fit", default=None, help="fit this benchmark size; print analysis/fit")
    ap.add_argument("--map-starts", type=int, default=0, help="dispersed MAP starts")
    ap.add_argument("--no-map-from-chains", action="store_true")
    ap.add_argument("--directions", type=int, default=None, help="curvature directions")
    ap.add_argument("--no-curvature", action="store_true")
    ap.add_argument("--hessian-budget", type=float, default=None, help="Hessian check budget")
    ap.add_argument("--max-cells", type=float, default=None, help="R-hat thinning budget")


def fit_ratio(size: str, seed: int = 0) -> None:
    """Fit a benchmark size with the defaults, then time its analysis against the fit."""
    import os
    import tempfile

    import bayesstack as bs
    from bayesstack.geometry import analyze
    from benchmarks.models import SIZES

    bench = SIZES[size]
    X, y = bench.data(seed)
    print(f"size {size}: N = {bench.n}, D = {bench.d}, hidden {list(bench.hidden)}")
    print(f"load average before the fit: {os.getloadavg()[0]:.1f}")
    t, c = time.perf_counter(), time.process_time()
    run = bs.fit(bench.spec(), X, y, chains=8, draws=1000, tune=1000, seed=seed)
    fit_wall, fit_cpu = time.perf_counter() - t, time.process_time() - c
    print(f"fit (8 x 1000 + 1000, compile included): {fit_wall:.1f} s wall, {fit_cpu:.1f} s CPU")
    saved = os.path.join(tempfile.mkdtemp(prefix="bayesstack-bench-"), f"size-{size}.zarr")
    bs.save(run, saved)
    print(f"the fit is saved at {saved} (time it again with --run)")
    for n_draws in (250, 500, 1000):
        part = run.isel(draw=slice(0, n_draws))
        print(f"load average: {os.getloadavg()[0]:.1f}")
        t, c = time.perf_counter(), time.process_time()
        res = analyze(part)
        an_wall, an_cpu = time.perf_counter() - t, time.process_time() - c
        print(
            f"analysis of {n_draws} draws per chain: {an_wall:.1f} s wall, {an_cpu:.1f} s CPU; "
            f"analysis/fit {an_wall / fit_wall:.2f} wall, {an_cpu / fit_cpu:.2f} CPU "
            f"(target <= 0.15 at 1000 draws); verdict {res.verdict}"
        )
        for k, v in res.timings.items():
            print(f"  {k:<18} {v:6.2f} s")


def run(args: argparse.Namespace) -> None:
    """Print timings of canonicalisation and of the full analysis."""
    if args.fit:
        return fit_ratio(args.fit)
    t = time.perf_counter()
    import arviz  # noqa: F401
    import jax  # noqa: F401
    import pymc  # noqa: F401

    from bayesstack.geometry import analyze
    from bayesstack.geometry.canonical import add_canonical

    print(f"imports (not timed below): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    if args.run:
        from bayesstack.inference.io import load

        run = load(args.run)
        print(f"setup (load {args.run}): {time.perf_counter() - t:.2f} s")
    else:
        _, run = make_run(tuple(int(h) for h in args.hidden.split(",")))
        print(f"setup (synthetic draws): {time.perf_counter() - t:.2f} s")
    if "canonical_posterior" in run.children:
        del run["canonical_posterior"]
    t, c = time.perf_counter(), time.process_time()
    add_canonical(run, method="sort")
    print(
        f"canonicalisation (sort): {time.perf_counter() - t:.2f} s wall, "
        f"{time.process_time() - c:.2f} s CPU"
    )
    # what the issue times: canonicalisation (align, analyze's default) + the full analysis
    t, c = time.perf_counter(), time.process_time()
    run = add_canonical(run, method="align")  # analyze reuses it
    t_can, c_can = time.perf_counter() - t, time.process_time() - c
    budgets = {"hessian_budget": args.hessian_budget, "max_cells": args.max_cells}
    t, c = time.perf_counter(), time.process_time()
    res = analyze(
        run,
        n_map_starts=args.map_starts,
        map_from_chains=not args.no_map_from_chains,
        curvature=not args.no_curvature,
        curvature_directions=args.directions,
        **{k: v for k, v in budgets.items() if v is not None},
    )
    t_an, c_an = time.perf_counter() - t, time.process_time() - c
    print(f"canonicalisation (align): {t_can:.2f} s wall, {c_can:.2f} s CPU")
    print(
        f"full analysis: {t_an:.2f} s wall, {c_an:.2f} s CPU "
        f"(dispersed MAP starts {args.map_starts}, from chains {not args.no_map_from_chains}, "
        f"curvature directions {args.directions or 'default'})"
    )
    print(f"canonicalisation + full analysis: {t_can + t_an:.2f} s wall, {c_can + c_an:.2f} s CPU")
    for k, v in res.timings.items():
        print(f"  {k:<18} {v:6.2f} s")
    d = res.to_dict()
    keys = ("rhat_max_raw", "rhat_max_canonical", "rhat_max_function", "modes_raw")
    keys += ("modes_canonical", "map_optima_raw", "map_optima_canonical")
    keys += ("hessian_negdef_fraction", "verdict")
    print({k: d[k] for k in keys})
    print(
        f"Hessian draws {res.hessian.n_evaluated}, R-hat draws per chain: weights "
        f"{res.rhat.draws_weights}, function {res.rhat.draws_function}"
    )
