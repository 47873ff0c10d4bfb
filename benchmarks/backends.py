"""Benchmarks: bayesstack's NUTS backends against the same network written by hand.

For every size (:data:`benchmarks.models.SIZES`) and backend, fits from scratch in this
process (one per sampler seed, ``repeats`` of them): compile and sampling time, gradient
evaluations per second inside the sampler against the floor (one compiled log density and
gradient, outside any sampler), bulk ESS (on canonical draws for stacks) per second. Backends:
``numpyro`` and ``nutpie`` (``bayesstack.fit``), ``hand-pymc`` (the network written in PyMC,
sampled by nutpie) and ``hand-numpyro``. Every route starts its chains from U(-2, 2) on the
unconstrained scale: bayesstack's default, numpyro's, and for ``hand-pymc`` set through
nutpie's ``initial_point_func``; so the routes differ in their code, not in where their chains
start.

Run ``python -m benchmarks backends --help`` from a checkout; ``docs/performance.md`` has the
results.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import math
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bayesstack.errors import BayesstackError
from benchmarks.models import SIZES, BenchSize, floor_jax, floor_numba, hand_numpyro, hand_pymc

log = logging.getLogger(__name__)

BACKENDS = ("numpyro", "nutpie", "hand-pymc", "hand-numpyro")


@dataclass(frozen=True)
class BenchRow:
    """One fit of one size with one backend and sampler seed (times in s, ``floor_us`` in µs).

    ``sampler_us`` is the CPU time per gradient evaluation inside the sampler (CPU seconds of
    the process while sampling / leapfrog steps: far less sensitive than wall time to other
    processes on the machine); ``efficiency`` is ``floor_us / sampler_us`` (1: no sampler
    overhead). ``wall`` is the whole fit as a user sees it: model, compilation, sampling, pointwise
    log-likelihood and the result object. ``min_ess`` and ``chain_ess`` are as in :func:`ess`;
    ``ess_per_s`` and ``ess_per_s_wall`` divide ``chain_ess`` by ``sample`` and ``wall``.
    """

    size: str
    backend: str
    seed: int
    chains: int
    tune: int
    draws: int
    compile: float
    sample: float
    wall: float
    floor_us: float
    grad_evals: int
    sampler_us: float
    efficiency: float
    min_ess: float
    chain_ess: float
    ess_per_s: float
    ess_per_s_wall: float
    divergences: int

    def to_dict(self) -> dict:
        """Plain dict of the row."""
        return asdict(self)


@dataclass(frozen=True)
class _Fit:
    compile: float
    sample: float
    cpu: float  # CPU seconds while sampling
    wall: float
    floor: float
    grad_evals: int
    draws: dict  # name -> (chain, draw, ...)
    divergences: int


def configure_jax(devices: int) -> None:
    """Float64, and ``devices`` CPU devices for hand-written numpyro's parallel chains.

    Only effective before JAX starts; bayesstack's own JAX route needs neither (threads).
    """
    import jax

    jax.config.update("jax_enable_x64", True)
    if devices == 1:
        # JAX's default is one CPU device already; setting it explicitly (JAX 0.12) made a
        # threaded size-d NUTS fit grow past 10 GB within a minute, against 1 GB without
        return
    try:
        jax.config.update("jax_num_cpu_devices", devices)
    except RuntimeError:  # JAX already running: hand-written numpyro runs chains in sequence
        log.info("JAX already started; hand-written numpyro chains run sequentially")


# --- one fit per backend ----------------------------------------------------------------------
def _point(n_dim: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.0, 1.0, n_dim)


def _jax_model_logp(model):
    """The JAX log density of bayesstack's ``model`` as a function of one flat vector."""
    from bayesstack.inference import jaxnuts

    logp_fn, _, names, dnames, _ = jaxnuts.jaxify_model(model)
    ip = model.initial_point()
    shapes = [np.shape(ip[n]) for n in names]
    data = jaxnuts.data_arrays(model, dnames)

    def logp(theta):
        parts, i = [], 0
        for s in shapes:
            k = math.prod(s)
            parts.append(theta[i : i + k].reshape(s))
            i += k
        return logp_fn(*parts, *data)[0]

    return logp, sum(math.prod(s) for s in shapes)


def _fit_bayesstack(
    size, backend, X, y, chains, tune, draws, seed, floor_s, target_accept=None
) -> _Fit:
    from bayesstack.inference import backends
    from bayesstack.inference.sampling import fit
    from bayesstack.model.builder import build_model

    spec = size.spec()
    t0 = time.perf_counter()
    kw = {} if target_accept is None else {"target_accept": target_accept}
    run = fit(spec, X, y, chains=chains, tune=tune, draws=draws, seed=seed, sampler=backend, **kw)
    wall = time.perf_counter() - t0
    post, stats = run["posterior"], run["sample_stats"]
    model = build_model(spec, X, y)
    if backend == "numpyro":
        logp, n_dim = _jax_model_logp(model)
        floor = floor_jax(logp, _point(n_dim), floor_s)
    else:
        cm, _ = backends.nutpie_compiled(model, spec)
        floor = floor_numba(cm, _point(cm.n_dim), floor_s)
    steps = int(stats["n_steps"].sum()) + int(stats.attrs["warmup_n_steps"])
    return _Fit(
        float(post.attrs["compile_time"]),
        float(post.attrs["sampling_time"]),
        float(post.attrs["sampling_cpu_time"]),
        wall,
        floor,
        steps,
        {k: post[k].values for k in post.data_vars},
        int(stats["diverging"].sum()),
    )


def hand_pymc_compiled(model):
    """The hand-written PyMC ``model`` compiled by nutpie, started from U(-2, 2) like bayesstack."""
    import nutpie

    from bayesstack.inference.backends import uniform_start

    cm = nutpie.compile_pymc_model(model, backend="numba")
    return dataclasses.replace(cm, initial_point_func=uniform_start(cm.n_dim))


def _fit_hand_pymc(size, X, y, chains, tune, draws, seed, floor_s, target_accept=None) -> _Fit:
    import nutpie
    import pymc as pm

    t0 = time.perf_counter()
    model = hand_pymc(size, X, y)
    cm = hand_pymc_compiled(model)
    t1, cpu = time.perf_counter(), time.process_time()
    kw = {} if target_accept is None else {"target_accept": target_accept}
    tr = nutpie.sample(
        cm,
        draws=draws,
        tune=tune,
        chains=chains,
        seed=seed,
        save_warmup=True,
        progress_bar=False,
        **kw,
    )
    t2, cpu = time.perf_counter(), time.process_time() - cpu
    pm.compute_log_likelihood(tr, model=model, progressbar=False)
    wall = time.perf_counter() - t0
    steps = int(tr.sample_stats["n_steps"].sum() + tr.warmup_sample_stats["n_steps"].sum())
    post = tr.posterior
    return _Fit(
        t1 - t0,
        t2 - t1,
        cpu,
        wall,
        floor_numba(cm, _point(cm.n_dim), floor_s),
        steps,
        {k: post[k].values for k in post.data_vars},
        int(tr.sample_stats["diverging"].sum()),
    )


class _CompileClock:
    """Seconds JAX spends tracing, lowering and compiling while inside the ``with``."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __enter__(self):
        import jax.monitoring

        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._on)
        return self

    def _on(self, event: str, duration: float, **_) -> None:
        if event in self.EVENTS:
            self.seconds += duration

    def __exit__(self, *exc) -> None:
        import jax.monitoring

        jax.monitoring.unregister_event_duration_listener(self._on)


def _fit_hand_numpyro(size, X, y, chains, tune, draws, seed, floor_s, target_accept=None) -> _Fit:
    import jax
    from jax.flatten_util import ravel_pytree
    from numpyro.infer import MCMC, NUTS
    from numpyro.infer.util import initialize_model, log_likelihood

    model = hand_numpyro(size)
    method = "parallel" if jax.local_device_count() >= chains else "sequential"
    Xj, yj = jax.numpy.asarray(X), jax.numpy.asarray(y)

    def mcmc(n_warm, n_draw):
        kw = {"progress_bar": False, "chain_method": method}
        nuts_kw = {} if target_accept is None else {"target_accept_prob": target_accept}
        return MCMC(
            NUTS(model, **nuts_kw), num_warmup=n_warm, num_samples=n_draw, num_chains=chains, **kw
        )

    # MCMC.run compiles inside (again on every call): JAX's own compile events time it
    m = mcmc(tune, draws)
    with _CompileClock() as clock:
        t0, cpu = time.perf_counter(), time.process_time()
        m.run(jax.random.key(seed), Xj, yj, extra_fields=("num_steps",))
        samples = m.get_samples(group_by_chain=True)
        jax.block_until_ready(samples)
        t_run, cpu = time.perf_counter() - t0, time.process_time() - cpu
    jax.block_until_ready(log_likelihood(model, m.get_samples(), Xj, yj))
    wall = time.perf_counter() - t0
    t_compile = min(clock.seconds, t_run)
    # warmup steps are not collected by run(); the same warmup, untimed, gives them
    w = mcmc(tune, draws)
    w.warmup(jax.random.key(seed), Xj, yj, collect_warmup=True, extra_fields=("num_steps",))
    n_warm = int(w.get_extra_fields()["num_steps"].sum())
    info = initialize_model(jax.random.key(0), model, model_args=(Xj, yj))
    flat, unravel = ravel_pytree(info.param_info.z)
    floor = floor_jax(lambda th: -info.potential_fn(unravel(th)), _point(flat.size), floor_s)
    steps = n_warm + int(m.get_extra_fields()["num_steps"].sum())
    divs = int(m.get_extra_fields()["diverging"].sum())
    return _Fit(
        t_compile,
        t_run - t_compile,
        max(cpu - t_compile, 0.0),  # compilation runs on one core
        wall,
        floor,
        steps,
        {k: np.asarray(v) for k, v in samples.items()},
        divs,
    )


# --- warm caches, so that no backend pays for running first ----------------------------------
def compile_models(sizes: Sequence[str], seed: int = 0) -> None:
    """Compile bayesstack's and the hand-written PyMC model of every size with nutpie (numba)."""
    import nutpie

    from bayesstack.model.builder import build_model

    for name in sizes:
        X, y = SIZES[name].data(seed)
        for model in (build_model(SIZES[name].spec(), X, y), hand_pymc(SIZES[name], X, y)):
            nutpie.compile_pymc_model(model, backend="numba")


def warm_up(sizes: Sequence[str], backends: Sequence[str], seed: int = 0) -> None:
    """Fill numba's on-disk cache in a child process, and pay first-use costs here.

    Every timed compile then runs as in a fresh process on a machine that has run bayesstack
    before, whichever backend comes first.
    """
    if {"nutpie", "hand-pymc"} & set(backends):
        code = "from benchmarks.backends import compile_models; "
        code += f"compile_models({list(sizes)!r}, {seed})"
        root = Path(__file__).resolve().parents[1]  # the checkout, where `benchmarks` imports
        subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, cwd=root)
        _fit_bayesstack(SIZES["a"], "nutpie", *SIZES["a"].data(seed), 1, 5, 5, seed, 0.01)
    if {"numpyro", "hand-numpyro"} & set(backends):
        _fit_bayesstack(SIZES["e"], "numpyro", *SIZES["e"].data(seed), 1, 5, 5, seed, 0.01)
    from bayesstack.inference.backends import clear_caches

    clear_caches()  # the timed fits compile from scratch


# --- ESS on canonical draws -------------------------------------------------------------------
def ess(size: BenchSize, draws: dict) -> tuple[float, float]:
    """Bulk ESS on canonical draws (weights with the symmetry removed).

    Returns the minimum over scalars of the multi-chain bulk ESS (as ArviZ reports it), and
    the chain ESS: per chain the minimum over scalars of its own bulk ESS, summed over chains.
    The first also measures whether the chains found the same mode (a property of the
    posterior and the starts); the second measures how fast each chain explores its mode.
    """
    import arviz as az
    import xarray as xr

    spec = size.spec()
    if spec.depth:
        try:
            from bayesstack.geometry.canonical import canonicalize
        except ImportError:  # pragma: no cover - geometry not available
            log.warning("no canonicalize: ESS of raw (label-switching) weights")
        else:
            draws = canonicalize(spec, draws).params
    ds = xr.Dataset(
        {
            k: (("chain", "draw", *(f"{k}_{i}" for i in range(np.ndim(v) - 2))), np.asarray(v))
            for k, v in draws.items()
        }
    )

    def least(d) -> float:
        e = az.ess(d, method="bulk")
        return float(min(float(e[k].min()) for k in e.data_vars))

    per_chain = sum(least(ds.isel(chain=[c])) for c in range(ds.sizes["chain"]))
    return least(ds), per_chain


# --- the harness ------------------------------------------------------------------------------
def run_benchmarks(
    sizes: Sequence[str] = tuple(SIZES),
    backends: Sequence[str] = BACKENDS,
    quick: bool = False,
    *,
    chains: int = 2,
    tune: int | None = None,
    draws: int | None = None,
    seed: int = 0,
    repeats: int = 1,
    target_accept: float | None = None,
) -> list[BenchRow]:
    """Fit every size with every backend and measure it, ``repeats`` times.

    Parameters
    ----------
    sizes : sequence of str
        Keys of :data:`benchmarks.models.SIZES` (``"a"`` ... ``"e"``).
    backends : sequence of str
        Any of :data:`BACKENDS`; ``numpyro`` and ``hand-numpyro`` need the ``jax`` extra.
    quick : bool
        Tiny runs (30 tuning steps, 30 draws, short floor timings): for tests.
    chains : int
        Chains per fit (all run at once, one per core, as far as cores go).
    tune, draws : int, optional
        Default 1000 each (30 with ``quick``).
    seed : int
        Data seed, and the sampler seed of the first repeat.
    repeats : int
        Fits per size and backend, on the same data with sampler seeds ``seed``,
        ``seed + 1``, ...; the backends take turns in reverse order on odd repeats, and every
        fit compiles as the first of its process would (bayesstack's compile caches are
        cleared before it).
    target_accept : float, optional
        NUTS target acceptance of every route (default: each route's own, 0.8 in all four).

    Returns
    -------
    list of BenchRow
    """
    for field, given, known in (("backends", backends, BACKENDS), ("sizes", sizes, SIZES)):
        unknown = [v for v in given if v not in known]
        if unknown:
            raise BayesstackError(
                f"{field}: unknown {unknown[0]!r}; choose from {', '.join(known)}"
            )
    for field, value in (("chains", chains), ("repeats", repeats)):
        if value < 1:
            raise BayesstackError(f"{field}: must be at least 1, got {value}")
    if target_accept is not None and not 0 < target_accept < 1:
        raise BayesstackError(f"target_accept: must be in (0, 1), got {target_accept!r}")
    tune = tune or (30 if quick else 1000)
    draws = draws or (30 if quick else 1000)
    floor_s = 0.05 if quick else 1.0
    if any(b in ("numpyro", "hand-numpyro") for b in backends):
        configure_jax(chains)
    warm_up(sizes, backends, seed)
    from bayesstack.inference.backends import clear_caches

    rows = []
    for name, rep in ((n, r) for n in sizes for r in range(repeats)):
        size = SIZES[name]
        X, y = size.data(seed)
        for backend in backends if rep % 2 == 0 else backends[::-1]:
            log.info("bench: size %s, %s, sampler seed %d", name, backend, seed + rep)
            args = (X, y, chains, tune, draws, seed + rep, floor_s, target_accept)
            if backend in ("numpyro", "nutpie"):
                clear_caches()
                f = _fit_bayesstack(size, backend, *args)
            elif backend == "hand-pymc":
                f = _fit_hand_pymc(size, *args)
            else:
                f = _fit_hand_numpyro(size, *args)
            sampler_us = f.cpu / max(f.grad_evals, 1) * 1e6
            ess_min, ess_chain = ess(size, f.draws)
            rows.append(
                BenchRow(
                    name,
                    backend,
                    seed + rep,
                    chains,
                    tune,
                    draws,
                    f.compile,
                    f.sample,
                    f.wall,
                    f.floor * 1e6,
                    f.grad_evals,
                    sampler_us,
                    f.floor * 1e6 / sampler_us if sampler_us > 0 else math.nan,
                    ess_min,
                    ess_chain,
                    ess_chain / f.sample if f.sample > 0 else math.nan,
                    ess_chain / f.wall,
                    f.divergences,
                )
            )
    return rows


# --- ratios, scaling, reuse, Markdown ---------------------------------------------------------
RATIOS = (  # (numerator, denominator, what, target)
    ("nutpie", "hand-pymc", "wall", "<= 1.05"),
    ("nutpie", "hand-pymc", "floor_us", "<= 1.05"),
    ("nutpie", "hand-pymc", "sampler_us", "<= 1.05"),
    ("numpyro", "hand-numpyro", "ess_per_s_wall", ">= 1.0"),
    ("numpyro", "hand-numpyro", "wall", ""),
    ("numpyro", "hand-numpyro", "floor_us", ""),
    ("numpyro", "nutpie", "ess_per_s_wall", ""),
    ("numpyro", "nutpie", "floor_us", ""),
)


def ratios(rows: Sequence[BenchRow]) -> list[tuple[str, str, str, str, list[float]]]:
    """``(size, a / b, what, target, values)`` for every pair in :data:`RATIOS` that was run.

    ``values`` has one ratio per sampler seed that both ran (fits of one seed are paired).
    """
    by = {(r.size, r.backend, r.seed): r for r in rows}
    seeds = sorted({r.seed for r in rows})
    out = []
    for size in dict.fromkeys(r.size for r in rows):
        for a, b, what, target in RATIOS:
            vals = []
            for s in seeds:
                if (size, a, s) in by and (size, b, s) in by:
                    den = getattr(by[size, b, s], what)
                    vals.append(getattr(by[size, a, s], what) / den if den else math.nan)
            if vals:
                out.append((size, f"{a} / {b}", what, target, vals))
    return out


def to_markdown(rows: Sequence[BenchRow]) -> str:
    """The results table and the ratio table as Markdown."""
    head = (
        "| size | backend | seed | compile s | sample s | wall s | floor µs | µs/grad in sampler "
        "| efficiency | grad evals | min ESS | chain ESS | ESS/s | ESS/s (wall) | div |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r.size} | {r.backend} | {r.seed} | {r.compile:.1f} | {r.sample:.1f} | {r.wall:.1f} "
        f"| {r.floor_us:.1f} | {r.sampler_us:.1f} | {r.efficiency:.2f} | {r.grad_evals} "
        f"| {r.min_ess:.0f} | {r.chain_ess:.0f} | {r.ess_per_s:.1f} | {r.ess_per_s_wall:.1f} "
        f"| {r.divergences} |\n"
        for r in rows
    )
    rat = (
        "\n| size | ratio | of | target | median | per seed |\n|---|---|---|---|---|---|\n"
        + "".join(
            f"| {s} | {pair} | {what} | {target} | {np.median(v):.2f} "
            f"| {', '.join(f'{x:.2f}' for x in v)} |\n"
            for s, pair, what, target, v in ratios(rows)
        )
    )
    return head + body + rat


@dataclass(frozen=True)
class ScalingRow:
    """Time per log density + gradient (µs) of a one-hidden-layer tanh stack, D = 5."""

    n: int
    width: int
    numba_us: float
    jax_us: float
    hand_jax_us: float

    def to_dict(self) -> dict:
        """Plain dict of the row."""
        return asdict(self)


def scaling(
    ns: Sequence[int] = (200, 1000, 5000, 20000),
    widths: Sequence[int] = (3, 10, 30, 100),
    *,
    quick: bool = False,
) -> list[ScalingRow]:
    """The floor against N (width 10) and against width (N = 1000): numba, PyMC-to-JAX, JAX."""
    import nutpie

    from bayesstack.model.builder import build_model
    from benchmarks.models import hand_jax_logp

    configure_jax(1)
    floor_s = 0.05 if quick else 0.5
    grid = [(n, 10) for n in ns] + [
        (1000, w) for w in widths if (1000, w) not in {(n, 10) for n in ns}
    ]
    rows = []
    for n, width in grid:
        size = BenchSize(f"n{n}-h{width}", n, 5, (width,))
        X, y = size.data(0)
        model = build_model(size.spec(), X, y)
        cm = nutpie.compile_pymc_model(model, backend="numba")
        x = _point(cm.n_dim)
        logp, _ = _jax_model_logp(model)
        ip = model.initial_point()
        shapes = {v.name: np.shape(ip[v.name]) for v in model.value_vars}
        rows.append(
            ScalingRow(
                n,
                width,
                floor_numba(cm, x, floor_s) * 1e6,
                floor_jax(logp, x, floor_s) * 1e6,
                floor_jax(hand_jax_logp(size, X, y, shapes), x, floor_s) * 1e6,
            )
        )
    return rows


def scaling_markdown(rows: Sequence[ScalingRow]) -> str:
    """The scaling table as Markdown."""
    return (
        "| N | width | numba µs | PyMC→JAX µs | hand JAX µs | numba / JAX |\n"
        + ("|---|---|---|---|---|---|\n")
        + "".join(
            f"| {r.n} | {r.width} | {r.numba_us:.1f} | {r.jax_us:.1f} | {r.hand_jax_us:.1f} "
            f"| {r.numba_us / r.jax_us:.2f} |\n"
            for r in rows
        )
    )


@dataclass(frozen=True)
class ReuseRow:
    """Fits of one architecture: cold, the same fit again, and a fit on new data and seed.

    The repeated fit draws exactly what the cold one drew, so ``cold_wall - again_wall`` is the
    saving from reusing the compiled model, free of run-to-run differences in sampling.
    """

    size: str
    backend: str
    cold_wall: float
    cold_compile: float
    again_wall: float
    again_compile: float
    new_data_wall: float
    new_data_compile: float
    same_draws: bool

    def to_dict(self) -> dict:
        """Plain dict of the row."""
        return asdict(self)


def reuse(
    size: str = "b", backends: Sequence[str] = ("numpyro", "nutpie"), *, quick: bool = False
) -> list[ReuseRow]:
    """Time a cold fit, the same fit again, and a fit on new data, per backend."""
    from bayesstack.inference.backends import clear_caches
    from bayesstack.inference.sampling import fit

    n = 30 if quick else 200
    rows = []
    for backend in backends:
        clear_caches()
        out = []
        for seed in (1, 1, 2):
            X, y = SIZES[size].data(seed)
            t0 = time.perf_counter()
            run = fit(
                SIZES[size].spec(), X, y, chains=2, tune=n, draws=n, seed=seed, sampler=backend
            )
            post = run["posterior"]
            out.append((time.perf_counter() - t0, float(post.attrs["compile_time"]), post))
        a, b = out[0][2], out[1][2]
        same = all(np.array_equal(a[k].values, b[k].values) for k in a.data_vars)
        rows.append(ReuseRow(size, backend, *out[0][:2], *out[1][:2], *out[2][:2], same_draws=same))
    return rows


def reuse_markdown(rows: Sequence[ReuseRow]) -> str:
    """The reuse table as Markdown."""
    return (
        "| size | backend | cold fit s | of which compile | same fit again s | of which compile "
        "| same draws | new data + seed s | of which compile | saving |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    ) + "".join(
        f"| {r.size} | {r.backend} | {r.cold_wall:.1f} | {r.cold_compile:.1f} "
        f"| {r.again_wall:.1f} | {r.again_compile:.1f} | {'yes' if r.same_draws else 'no'} "
        f"| {r.new_data_wall:.1f} | {r.new_data_compile:.1f} "
        f"| {r.cold_wall - r.again_wall:.1f} s ({r.cold_wall / r.again_wall:.2f}x) |\n"
        for r in rows
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks backends``."""
    p.add_argument("--sizes", default=",".join(SIZES))
    p.add_argument("--backends", default=",".join(BACKENDS))
    p.add_argument("--chains", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--seed", type=int, default=0, help="data and (first) sampler seed")
    p.add_argument("--repeats", type=int, default=1, help="fits per size and backend")
    p.add_argument("--scaling", action="store_true", help="also time the floor against N and width")
    p.add_argument("--reuse", action="store_true", help="also time a repeated fit")
    p.add_argument(
        "--target-accept", type=float, default=None, help="NUTS target acceptance of every route"
    )


def run(a: argparse.Namespace) -> None:
    """Run the backend benchmarks and print Markdown tables."""
    rows = run_benchmarks(
        a.sizes.split(","),
        a.backends.split(","),
        a.quick,
        chains=a.chains,
        seed=a.seed,
        repeats=a.repeats,
        target_accept=a.target_accept,
    )
    print(to_markdown(rows), flush=True)
    if a.reuse:
        print(reuse_markdown(reuse(quick=a.quick)), flush=True)
    if a.scaling:
        print(scaling_markdown(scaling(quick=a.quick)), flush=True)
