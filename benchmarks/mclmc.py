"""Benchmark: NUTS against the microcanonical samplers, and trapped chains per init and sampler.

* **ESS/s by size** (default sizes c and d of :data:`benchmarks.models.SIZES`): every route
  fits the same data with the same seeds (paired), compiling from scratch. Per fit: wall time
  (compilation included), the median over 20 fixed inputs (N(0, I), seeded) of the bulk ESS of
  η there, and the chain ESS of the canonical weights (per chain the least bulk ESS over
  scalars, summed over chains; :func:`benchmarks.backends.ess`), each per second of wall time,
  and its ratio to NUTS (``numpyro``, uniform starts: the default until now) of the same seed.
* **Trapped chains** (``--trapped``): a 3-unit tanh teacher (bayesstack's teacher weights)
  with N = 400 and noise sd 0.1, 8 chains per fit over several run seeds, for every init and
  sampler. A chain is *trapped* when its mean log density over the second half of its draws is
  more than 20 nats below the best chain's of its fit. Among the other chains, the distinct
  symmetric images are the raw modes of their weights
  (:func:`bayesstack.geometry.modes.cluster_modes`), which canonicalisation merges (the
  canonical modes are counted too).

Run:  .venv/bin/python -m benchmarks mclmc [--sizes c,d] [--seeds 0] [--chains 2]
      .venv/bin/python -m benchmarks mclmc --trapped [--seeds 0,1,2,3,4,5,6]
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bayesstack.errors import BayesstackError
from benchmarks.models import SIZES

log = logging.getLogger(__name__)

ROUTES = ("numpyro", "adjusted_mclmc", "mclmc", "adjusted_mclmc+map", "mclmc+map")
TRAPPED_ROUTES = (
    "numpyro",
    "numpyro+map",
    "adjusted_mclmc",
    "adjusted_mclmc+map",
    "mclmc",
    "mclmc+map",
)
BASELINE = "numpyro"
N_INPUTS = 20
TRAP_NATS = 20.0
TEACHER_N, TEACHER_NOISE = 400, 0.1


@dataclass(frozen=True)
class SizeRow:
    """One fit of one size by one route: wall seconds, ESS of η and canonical weights."""

    size: str
    route: str
    seed: int
    chains: int
    wall: float
    ess_eta: float
    ess_weights: float
    divergences: int

    @property
    def eta_per_s(self) -> float:
        """ESS of η per second of wall time."""
        return self.ess_eta / self.wall

    @property
    def weights_per_s(self) -> float:
        """Chain ESS of the canonical weights per second of wall time."""
        return self.ess_weights / self.wall

    def to_dict(self) -> dict:
        """Plain dict of the row."""
        return asdict(self)


@dataclass(frozen=True)
class TrapRow:
    """One fit of the trapped-chain teacher: trapped chains and images among the others."""

    route: str
    seed: int
    chains: int
    trapped: int
    images: int
    canonical_modes: int
    wall: float

    def to_dict(self) -> dict:
        """Plain dict of the row."""
        return asdict(self)


def _fit(spec, X, y, route: str, chains: int, tune: int, draws: int, seed: int):
    from bayesstack.inference.backends import clear_caches
    from bayesstack.inference.sampling import fit

    sampler, _, init = route.partition("+")
    clear_caches()
    t0 = time.perf_counter()
    run = fit(
        spec,
        X,
        y,
        chains=chains,
        tune=tune,
        draws=draws,
        seed=seed,
        sampler=sampler,
        init=init or "uniform",
    )
    return run, time.perf_counter() - t0


def _check(routes: Sequence[str]) -> None:
    from bayesstack.inference.settings import INITS, SAMPLERS

    for r in routes:
        sampler, _, init = r.partition("+")
        if sampler not in SAMPLERS or (init and init not in INITS):
            raise BayesstackError(f"routes: unknown {r!r}; e.g. {', '.join(ROUTES)}")


def eta_ess(spec, post, X: np.ndarray) -> float:
    """Median over the rows of ``X`` of the bulk ESS (ArviZ, all chains) of η there."""
    import arviz as az
    import xarray as xr

    from bayesstack.model.network import forward, weight_names

    eta = np.asarray(forward(spec, {k: post[k].values for k in weight_names(spec)}, X))
    e = az.ess(xr.Dataset({"eta": (("chain", "draw", "x"), eta)}), method="bulk")
    return float(np.median(np.asarray(e["eta"])))


def ess_by_size(
    sizes: Sequence[str] = ("c", "d"),
    routes: Sequence[str] = ROUTES,
    *,
    seeds: Sequence[int] = (0,),
    chains: int = 2,
    tune: int = 1000,
    draws: int = 1000,
) -> list[SizeRow]:
    """Fit every size by every route for every seed (data seed 0); see the module docstring."""
    from benchmarks.backends import configure_jax, ess

    _check(routes)
    configure_jax(1)
    rows = []
    for name in sizes:
        size = SIZES[name]
        X, y = size.data(0)
        Xs = np.random.default_rng(12345).normal(size=(N_INPUTS, size.d))
        for seed in seeds:
            for route in routes:
                log.info("mclmc bench: size %s, %s, seed %d", name, route, seed)
                run, wall = _fit(size.spec(), X, y, route, chains, tune, draws, seed)
                post = run["posterior"]
                draws_w = {k: post[k].values for k in post.data_vars}
                _, chain_ess = ess(size, draws_w)
                div = int(run["sample_stats"]["diverging"].sum())
                e_eta = eta_ess(size.spec(), post, Xs)
                rows.append(SizeRow(name, route, seed, chains, wall, e_eta, chain_ess, div))
                log.info("size row: %s", rows[-1].to_dict())
    return rows


def sizes_markdown(rows: Sequence[SizeRow]) -> str:
    """Per fit, and each route's ESS/s against NUTS of the same size and seed."""
    base = {(r.size, r.seed): r for r in rows if r.route == BASELINE}
    out = (
        "| size | route | seed | wall s | ESS(η) | ESS(η)/s | ×NUTS | ESS(weights) "
        "| ESS(weights)/s | ×NUTS | div |\n|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        b = base.get((r.size, r.seed))
        f1 = f"{r.eta_per_s / b.eta_per_s:.2f}" if b else ""
        f2 = f"{r.weights_per_s / b.weights_per_s:.2f}" if b else ""
        out += (
            f"| {r.size} | {r.route} | {r.seed} | {r.wall:.1f} | {r.ess_eta:.0f} "
            f"| {r.eta_per_s:.2f} | {f1} | {r.ess_weights:.0f} | {r.weights_per_s:.2f} | {f2} "
            f"| {r.divergences} |\n"
        )
    return out


# --- trapped chains ---------------------------------------------------------------------------
def trap_teacher(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The 3-unit tanh teacher with N = 400 and noise sd 0.1 (strong signal)."""
    from bayesstack.data.builtin import teacher_params

    p = teacher_params("teacher-gaussian")
    rng = np.random.default_rng([1729, TEACHER_N, seed])
    X = rng.standard_normal((TEACHER_N, 2))
    X = (X - X.mean(0)) / X.std(0)
    eta = np.tanh(X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    return X, eta + TEACHER_NOISE * rng.standard_normal(TEACHER_N)


def trapped_chains(lp: np.ndarray, nats: float = TRAP_NATS) -> np.ndarray:
    """Chains whose mean log density over their second half is ``nats`` below the best."""
    m = np.asarray(lp)[:, lp.shape[1] // 2 :].mean(axis=1)
    return np.flatnonzero(m < m.max() - nats)


def count_images(spec, post, keep: np.ndarray) -> tuple[int, int]:
    """Raw modes (symmetric images) and canonical modes among the chains ``keep``."""
    from bayesstack.geometry.canonical import canonicalize
    from bayesstack.geometry.modes import cluster_modes
    from bayesstack.model.network import flatten, weight_names

    w = {k: post[k].values[keep] for k in weight_names(spec)}
    raw = cluster_modes(flatten(w, spec, 2)).n_modes
    can = canonicalize(spec, w).params
    return raw, cluster_modes(flatten({k: can[k] for k in w}, spec, 2)).n_modes


def trapped(
    routes: Sequence[str] = TRAPPED_ROUTES,
    *,
    seeds: Sequence[int] = range(7),
    chains: int = 8,
    tune: int = 1000,
    draws: int = 1000,
) -> list[TrapRow]:
    """Fit the teacher by every route and run seed; count trapped chains and images."""
    import bayesstack as bs
    from benchmarks.backends import configure_jax

    _check(routes)
    configure_jax(1)
    spec = bs.load_spec("models/stack1-tanh.toml")
    X, y = trap_teacher()
    rows = []
    for seed in seeds:
        for route in routes:
            log.info("trapped: %s, seed %d", route, seed)
            run, wall = _fit(spec, X, y, route, chains, tune, draws, seed)
            lp = run["sample_stats"]["lp"].values
            bad = trapped_chains(lp)
            keep = np.setdiff1d(np.arange(chains), bad)
            images, canon = count_images(spec, run["posterior"], keep)
            rows.append(TrapRow(route, seed, chains, len(bad), images, canon, wall))
            log.info("trapped row: %s", rows[-1].to_dict())
    return rows


def trapped_markdown(rows: Sequence[TrapRow]) -> str:
    """Per route: trapped share over all fits, and the images per fit (min, median)."""
    out = (
        "| route | fits | trapped chains | share | images per fit (min–max) "
        "| canonical modes (max) | wall s (median) |\n|---|---|---|---|---|---|---|\n"
    )
    for route in dict.fromkeys(r.route for r in rows):
        rs = [r for r in rows if r.route == route]
        n = sum(r.chains for r in rs)
        t = sum(r.trapped for r in rs)
        im = [r.images for r in rs]
        out += (
            f"| {route} | {len(rs)} | {t} of {n} | {100 * t / n:.1f} % | {min(im)}–{max(im)} "
            f"| {max(r.canonical_modes for r in rs)} | {np.median([r.wall for r in rs]):.1f} |\n"
        )
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks mclmc``."""
    p.add_argument("--sizes", default="c,d")
    p.add_argument("--routes", default=None, help="SAMPLER[+INIT],...")
    p.add_argument("--seeds", default=None, help="default 0 (sizes), 0-6 (--trapped)")
    p.add_argument("--chains", type=int, default=None, help="default 2 (sizes), 8 (--trapped)")
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--trapped", action="store_true", help="the trapped-chain share instead")


def run(a: argparse.Namespace) -> None:
    """Run the benchmark and print a Markdown table."""
    kw = {"tune": a.tune, "draws": a.draws}
    if a.trapped:
        seeds = [int(s) for s in (a.seeds or "0,1,2,3,4,5,6").split(",")]
        routes = a.routes.split(",") if a.routes else TRAPPED_ROUTES
        rows = trapped(routes, seeds=seeds, chains=a.chains or 8, **kw)
        print(trapped_markdown(rows), flush=True)
        return
    seeds = [int(s) for s in (a.seeds or "0").split(",")]
    routes = a.routes.split(",") if a.routes else ROUTES
    unknown = [s for s in a.sizes.split(",") if s not in SIZES]
    if unknown:
        raise BayesstackError(f"sizes: unknown {unknown[0]!r}; choose from {', '.join(SIZES)}")
    rows = ess_by_size(a.sizes.split(","), routes, seeds=seeds, chains=a.chains or 2, **kw)
    print(sizes_markdown(rows), flush=True)
