"""NUTS backends and chain execution.

Chains are defined by seeds, not by how they are run: chain ``c`` of a run with seed ``s``
starts at a point drawn with, and is sampled with, seeds derived from the ``c``-th child of
``np.random.SeedSequence(s)``. The default backend, ``"numpyro"``, runs the PyMC model's JAX
graph with numpyro's NUTS (:mod:`bayesstack.inference.jaxnuts`); ``"adjusted_mclmc"`` and
``"mclmc"`` run it with blackjax's microcanonical samplers (:mod:`bayesstack.inference.mclmc`);
``"nutpie"`` runs its numba graph. All of them run every chain as its own single-chain sampler,
in parallel over cores, so a chain's draws do not depend on how many chains run beside it, on
how many cores there are, or on whether it ran here or in a Dask task
(:mod:`bayesstack.inference.distributed`). ``"pymc"`` goes through ``pm.sample``. With
``init="map"`` every chain starts from its own optimum (:mod:`bayesstack.inference.warmstart`).
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bayesstack.inference.progress import QUIET
from bayesstack.spec import Spec

if TYPE_CHECKING:  # PyMC and xarray load on first use: the CLI imports this module cheaply
    import pymc as pm
    import xarray as xr

log = logging.getLogger(__name__)

# --- seeds and starting points ----------------------------------------------------------------
INIT_RADIUS = 2.0  # "uniform" starts: U(-2, 2) on the unconstrained scale, as Stan does


def chain_seeds(seed: int, chains: int) -> list[tuple[int, int]]:
    """``(start seed, sampler seed)`` of every chain, from ``SeedSequence(seed).spawn(chains)``.

    Chain ``c``'s seeds depend on ``seed`` and ``c`` only, not on ``chains``.
    """
    children = np.random.SeedSequence(seed).spawn(chains)
    return [(int(a), int(b)) for a, b in (s.generate_state(2) for s in children)]


def uniform_start(n_dim: int):
    """A seeded function drawing a flat unconstrained start from U(-2, 2)^n_dim."""

    def start(seed) -> np.ndarray:
        return np.random.default_rng(seed).uniform(-INIT_RADIUS, INIT_RADIUS, n_dim)

    return start


def chain_starts(model: pm.Model, start_seeds: Sequence[int], init: str) -> list[dict]:
    """Unconstrained starting points (keyed by value-variable name), one per start seed.

    ``"uniform"``: U(-2, 2) on the unconstrained scale; ``"prior"``: a prior draw;
    ``"jitter"``: PyMC's default, the support point plus U(-1, 1) jitter. (``"map"``'s
    optima come from :func:`map_starts`.)
    """
    from pymc.initial_point import make_initial_point_fn

    if init not in ("uniform", "prior", "jitter"):
        raise ValueError(f"chain_starts: no dispersed starts for init={init!r}")

    ip = model.initial_point()
    names = [v.name for v in model.value_vars]
    if init == "uniform":
        sizes = [int(np.size(ip[n])) for n in names]
        out = []
        for s in start_seeds:
            flat = uniform_start(sum(sizes))(s)
            parts = np.split(flat, np.cumsum(sizes)[:-1])
            out.append({n: p.reshape(np.shape(ip[n])) for n, p in zip(names, parts, strict=True)})
        return out
    fn = make_initial_point_fn(
        model=model,
        default_strategy="prior" if init == "prior" else "support_point",
        jitter_rvs=set() if init == "prior" else set(model.free_RVs),
        return_transformed=True,
    )
    return [{n: np.asarray(p[n], dtype="float64") for n in names} for p in map(fn, start_seeds)]


def chain_initial_points(
    model: pm.Model, seed: int, chains: int, init: str, starts: list[dict] | None = None
) -> list[dict] | None:
    """Per-chain starting points (constrained values keyed by RV name) for ``pm.sample``.

    The same points as :func:`chain_starts` gives the per-chain backends (or ``starts``, the
    unconstrained optima of ``init="map"``), mapped back to the constrained scale.
    ``init="jitter"`` returns None (PyMC's own jittered start).
    """
    if init == "jitter":
        return None
    if starts is None:
        starts = chain_starts(model, [s for s, _ in chain_seeds(seed, chains)], init)
    points = []
    for z in starts:
        point = {}
        for rv in model.free_RVs:
            u = z[model.rvs_to_values[rv].name]
            tr = model.rvs_to_transforms.get(rv)
            point[rv.name] = u if tr is None else tr.backward(u, *rv.owner.inputs).eval()
        points.append(point)
    return points


# --- one chain's result -----------------------------------------------------------------------
@dataclass(frozen=True)
class ChainDraws:
    """One chain's draws: what a local worker thread or a Dask task hands back.

    Attributes
    ----------
    chain : int
        The chain's index in the run.
    posterior, stats, log_likelihood : dict of str to array
        Draws of the free RVs and deterministics, sampler statistics and (when the backend
        computes it) the pointwise log-likelihood; leading dim ``draw``.
    warmup_n_steps : int
        Leapfrog steps (gradient evaluations) during warmup.
    seconds : float
        Wall time of this chain.
    """

    chain: int
    posterior: dict[str, np.ndarray]
    stats: dict[str, np.ndarray]
    warmup_n_steps: int
    seconds: float
    log_likelihood: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True)
class ChainRun:
    """Chains of one run and what they cost.

    Attributes
    ----------
    chains : list of ChainDraws
        In chain order.
    compile_time : float
        Seconds compiling (0 when the compiled model came from the cache).
    sampling_time : float
        Wall seconds sampling, compilation excluded.
    cpu_time : float
        CPU seconds of this process while sampling, all threads (immune to other processes
        sharing the cores, unlike wall time).
    optima : tuple of Optimum
        Every chain's optimum with ``init="map"`` (all chains of the run), else empty.
    warm_seconds : float
        Seconds finding them (compilation included).
    """

    chains: list[ChainDraws]
    compile_time: float
    sampling_time: float
    cpu_time: float
    optima: tuple = ()
    warm_seconds: float = 0.0


def data_key(model: pm.Model, spec: Spec) -> tuple:
    """What identifies a model's compiled graph: the spec's hash and the data's layout."""
    data = tuple(
        (v.name, np.shape(v.get_value()), str(v.get_value().dtype)) for v in model.data_vars
    )
    return (spec.hash, data)


# --- nutpie -----------------------------------------------------------------------------------
# Compiled nutpie models, keyed by architecture: repeated fits of the same architecture (many
# seeds, the demo) swap the data in instead of compiling again.
_NUTPIE_CACHE: OrderedDict[tuple, object] = OrderedDict()
_NUTPIE_CACHE_SIZE = 16


def nutpie_compiled(model: pm.Model, spec: Spec) -> tuple[object, float]:
    """The compiled numba model for ``spec`` with ``model``'s data, and the compile time."""
    import nutpie

    # the parameters' shapes follow the number of features: a compiled model is reused only
    # for data of another length, never of another width
    width = int(model["X"].get_value().shape[1])
    key = (
        spec.hash,
        width,
        tuple((v.name, v.get_value().ndim, str(v.dtype)) for v in model.data_vars),
    )
    cm = _NUTPIE_CACHE.get(key)
    if cm is None:
        t0 = time.perf_counter()
        cm = nutpie.compile_pymc_model(
            model, backend="numba", default_initialization_strategy="prior", jitter_rvs=set()
        )
        _NUTPIE_CACHE[key] = cm
        if len(_NUTPIE_CACHE) > _NUTPIE_CACHE_SIZE:
            _NUTPIE_CACHE.popitem(last=False)
        return cm, time.perf_counter() - t0
    _NUTPIE_CACHE.move_to_end(key)
    return cm.with_data(**{v.name: v.get_value() for v in model.data_vars}), 0.0


def _nutpie_chains(model, spec, s, chain_ids, starts, seeds, cores, progress) -> ChainRun:
    """Every chain as its own nutpie sampler, ``cores`` at a time (nutpie releases the GIL)."""
    import nutpie

    progress.status("compiling the model (numba)")
    cm, compile_time = nutpie_compiled(model, spec)
    progress.status("sampling")
    names = [v.name for v in model.value_vars]
    out_names = [v.name for v in (*model.free_RVs, *model.deterministics)]

    def one(args) -> ChainDraws:
        c, z, seed = args
        t0 = time.perf_counter()
        progress.start(c)
        flat = np.concatenate([np.ravel(z[n]) for n in names])
        tr = nutpie.sample(
            dataclasses.replace(cm, initial_point_func=lambda _seed: flat.copy()),
            draws=s.draws,
            tune=max(s.tune, 1),
            chains=1,
            cores=1,
            seed=seed,
            save_warmup=True,
            progress_bar=False,
            target_accept=s.target_accept,
        )
        post = {n: tr.posterior[n].values[0] for n in out_names}
        stats = {k: v.values[0] for k, v in tr.sample_stats.data_vars.items()}
        n_warm = int(tr.warmup_sample_stats["n_steps"].sum())
        log.info("chain %d done in %.1f s", c, time.perf_counter() - t0)
        progress.done(c)
        return ChainDraws(c, post, stats, n_warm, time.perf_counter() - t0)

    return _in_threads(one, zip(chain_ids, starts, seeds, strict=True), cores, compile_time)


def _in_threads(one, jobs, cores: int, compile_time: float) -> ChainRun:
    """Run ``one`` on every job in ``cores`` threads, timing wall and process CPU."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=cores) as pool:
        done = list(pool.map(one, jobs))
    return ChainRun(done, compile_time, time.perf_counter() - t0, time.process_time() - cpu0)


# --- the JAX routes: numpyro's NUTS, blackjax's MCLMC -----------------------------------------
def _jax_chains(model, spec, s, chain_ids, starts, seeds, cores, progress) -> ChainRun:
    """Every chain as one call of the compiled JAX program, in ``cores`` threads."""
    from bayesstack.inference import jaxnuts, mclmc

    key = data_key(model, spec)
    progress.status("compiling the model's JAX graph")
    if s.sampler == "numpyro":
        prog, fresh = jaxnuts.chain_program(
            model, key, tune=s.tune, draws=s.draws, target_accept=s.target_accept
        )
        names = jaxnuts.STATS
    else:
        adjusted = s.sampler == "adjusted_mclmc"
        prog, fresh = mclmc.chain_program(
            model,
            key,
            tune=s.tune,
            draws=s.draws,
            adjusted=adjusted,
            target_accept=s.target_accept,
        )
        names = mclmc.STATS[adjusted]
    progress.status("sampling (a chain is one XLA call: progress per chain)")
    compile_time = prog.compile_time if fresh else 0.0
    data = jaxnuts.data_arrays(model, prog.data_names)

    def one(args) -> ChainDraws:
        c, z, seed = args
        t0 = time.perf_counter()
        progress.start(c)
        out, stats, n_warm = jaxnuts.run_chain(prog, seed, z, data, names)
        post = {k: v for k, v in out.items() if not k.startswith("log_likelihood.")}
        ll = {k.split(".", 1)[1]: v for k, v in out.items() if k.startswith("log_likelihood.")}
        log.info("chain %d done in %.1f s", c, time.perf_counter() - t0)
        progress.done(c)
        return ChainDraws(c, post, stats, n_warm, time.perf_counter() - t0, ll)

    return _in_threads(one, zip(chain_ids, starts, seeds, strict=True), cores, compile_time)


def map_starts(model: pm.Model, spec: Spec, seed: int, chains: int, cores: int):
    """``init="map"``: every chain's optimum (all chains of the run) and the seconds taken."""
    from bayesstack.inference.warmstart import warm_starts

    seeds = [a for a, _ in chain_seeds(seed, chains)]
    optima, seconds = warm_starts(
        model,
        data_key(model, spec),
        seeds,
        lambda s: chain_starts(model, s, "uniform"),
        cores=cores,
    )
    return tuple(optima), seconds


def run_chains(
    model: pm.Model, spec: Spec, settings, chain_ids: Sequence[int], cores: int, progress=None
) -> ChainRun:
    """Run the chains ``chain_ids`` of a run here, in parallel over ``cores``.

    Parameters
    ----------
    model : pm.Model
        The built model.
    spec : Spec
        Its spec (the compile caches are keyed by its hash).
    settings : FitSettings
        Draws, tuning, seed, init, target acceptance and the sampler (one of
        :data:`~bayesstack.inference.settings.PER_CHAIN`).
    chain_ids : sequence of int
        Which chains of the run (their seeds derive from ``settings.seed`` and the index).
    cores : int
        Chains running at once.
    progress : FitProgress, optional
        Told of compilation and of every chain's start and end (:mod:`.progress`).

    Returns
    -------
    ChainRun
        The chains in ``chain_ids`` order, and compile, sampling and CPU time.
    """
    seeds = chain_seeds(settings.seed, max(chain_ids) + 1)
    optima, warm_seconds = (), 0.0
    if settings.init == "map":  # every chain's optimum: the restart rule compares them all
        optima, warm_seconds = map_starts(model, spec, settings.seed, settings.chains, cores)
        starts = [optima[c].position for c in chain_ids]
    else:
        starts = chain_starts(model, [seeds[c][0] for c in chain_ids], settings.init)
    sampler_seeds = [seeds[c][1] for c in chain_ids]
    runner = _nutpie_chains if settings.sampler == "nutpie" else _jax_chains
    ids = list(chain_ids)
    run = runner(
        model, spec, settings, ids, starts, sampler_seeds, max(1, cores), progress or QUIET
    )
    return dataclasses.replace(
        run,
        chains=sorted(run.chains, key=lambda d: ids.index(d.chain)),
        optima=optima,
        warm_seconds=warm_seconds,
    )


def to_datatree(model: pm.Model, run: ChainRun, *, library: str, tune: int) -> xr.DataTree:
    """Merge per-chain draws into one DataTree with PyMC's layout (chain index 0, 1, ...).

    Groups ``posterior``, ``sample_stats``, ``observed_data``, ``constant_data`` and, when the
    chains carry it, ``log_likelihood``; with ``init="map"`` also ``warm_start`` (every
    chain's optimum, :func:`bayesstack.inference.warmstart.to_dataset`). The posterior's
    attrs hold ``sampling_time``, ``sampling_cpu_time``, ``compile_time`` and
    ``tuning_steps``; the sample_stats' attrs hold ``warmup_n_steps`` (gradient evaluations
    during warmup, all chains together).
    """
    import pymc as pm
    import xarray as xr
    from arviz_base import dict_to_dataset
    from pymc.backends.arviz import (
        coords_and_dims_for_inferencedata,
        find_constants,
        find_observations,
    )

    lib = importlib.import_module(library)
    chains = run.chains
    coords, dims = coords_and_dims_for_inferencedata(model)
    post = {k: np.stack([c.posterior[k] for c in chains]) for k in chains[0].posterior}
    stats = {k: np.stack([c.stats[k] for c in chains]) for k in chains[0].stats}
    attrs = {
        "sampling_time": run.sampling_time,
        "sampling_cpu_time": run.cpu_time,
        "compile_time": run.compile_time,
        "tuning_steps": tune,
    }
    tree = xr.DataTree()
    kw = {"inference_library": lib, "coords": coords, "dims": dims}
    tree["posterior"] = xr.DataTree(dict_to_dataset(post, attrs=attrs, **kw))
    stats_ds = dict_to_dataset(stats, inference_library=lib)
    stats_ds.attrs["warmup_n_steps"] = int(sum(c.warmup_n_steps for c in chains))
    tree["sample_stats"] = xr.DataTree(stats_ds)
    if chains[0].log_likelihood:
        ll = {k: np.stack([c.log_likelihood[k] for c in chains]) for k in chains[0].log_likelihood}
        tree["log_likelihood"] = xr.DataTree(dict_to_dataset(ll, **kw))
    for group, find in (("constant_data", find_constants), ("observed_data", find_observations)):
        ds = dict_to_dataset(
            find(model), inference_library=pm, coords=coords, dims=dims, sample_dims=[]
        )
        tree[group] = xr.DataTree(ds)
    if run.optima:
        add_warm_start(tree, model, run.optima, run.warm_seconds)
    return tree


def add_warm_start(tree: xr.DataTree, model: pm.Model, optima, seconds: float) -> None:
    """Add the ``warm_start`` group (every chain's optimum) to ``tree``, in place."""
    import xarray as xr

    from bayesstack.inference.warmstart import GROUP, to_dataset

    tree[GROUP] = xr.DataTree(to_dataset(model, optima, seconds))


# --- pm.sample (PyMC's NUTS) ----------------------------------------------------------------
def sample_pm(model: pm.Model, s, progressbar: bool, spec: Spec | None = None) -> xr.DataTree:
    """Sample through ``pm.sample`` (PyMC's NUTS) with per-chain starts."""
    import pymc as pm

    optima, seconds = (), 0.0
    if s.init == "map":
        optima, seconds = map_starts(model, spec, s.seed, s.chains, s.n_cores)
    starts = [o.position for o in optima] or None
    initvals = chain_initial_points(model, s.seed, s.chains, s.init, starts)
    kw: dict = {"init": "adapt_diag" if initvals else "jitter+adapt_diag", "cores": s.n_cores}
    if s.n_cores > 1:
        kw["mp_ctx"] = "forkserver"
    tree = pm.sample(
        draws=s.draws,
        tune=s.tune,
        chains=s.chains,
        random_seed=s.seed,
        model=model,
        nuts_sampler=s.sampler,
        initvals=initvals,
        target_accept=s.target_accept,
        progressbar=progressbar,
        quiet=True,
        **kw,
    )
    if optima:
        add_warm_start(tree, model, optima, seconds)
    return tree


def clear_caches() -> None:
    """Forget every compiled model (nutpie and JAX)."""
    from bayesstack.inference import jaxnuts

    _NUTPIE_CACHE.clear()
    jaxnuts.clear_cache()
