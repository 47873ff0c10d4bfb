"""The JAX route: the PyMC model's own log density, converted to JAX, sampled by numpyro's NUTS.

The PyMC model stays the reference: its log density (Jacobian included), its free random
variables, deterministics and pointwise log-likelihood are converted by PyTensor's JAX backend,
unchanged. One chain is one call of one compiled XLA program (warmup and draws in a single
``lax.fori_loop``), so there is no Python in the sampling loop. The data are arguments of the
program, not constants, so the program of an architecture is compiled once per process and
reused for other data sets of the same shape (many seeds, the demo). Chains run in threads: XLA
releases the GIL, so chains use every core without ``XLA_FLAGS`` or
``numpyro.set_host_device_count``, and a chain's draws do not depend on how chains are grouped
(the same program runs every chain).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pymc as pm

STATS = ("lp", "diverging", "energy", "n_steps", "tree_depth", "acceptance_rate", "step_size")


@dataclass(frozen=True)
class ChainProgram:
    """A compiled single-chain NUTS program for one architecture and data layout.

    Attributes
    ----------
    run : callable
        ``run(key, start, data) -> (draws, stats, warmup_n_steps)``; ``start`` is a tuple of
        unconstrained values in ``value_names`` order, ``data`` a tuple in ``data_names`` order.
    value_names, data_names, out_names : tuple of str
        Value variables, data containers and the outputs per draw: posterior variables (free
        RVs, deterministics), then ``log_likelihood.<name>`` for every observed variable.
    compile_time : float
        Seconds spent converting and compiling.
    """

    run: Callable
    value_names: tuple[str, ...]
    data_names: tuple[str, ...]
    out_names: tuple[str, ...]
    compile_time: float


_CACHE: OrderedDict[tuple, ChainProgram] = OrderedDict()
_CACHE_SIZE = 16
_LOCK = threading.Lock()


def jaxify_model(model: pm.Model):
    """JAX functions of (value vars, data): the log density, and the outputs per draw.

    The outputs are the posterior variables, then the pointwise log-likelihood of every
    observed variable.
    """
    import pytensor.tensor as pt
    from pymc.sampling.jax import get_jaxified_graph
    from pytensor.graph.replace import clone_replace

    shared = list(model.data_vars)
    # integer data (binomial trials) enter as float64: JAX computes log/gammaln of int32 in
    # float32, which cost 1e-7 in the log-likelihood; PyTensor upcasts to float64 first
    inputs = [
        pt.tensor(s.name, dtype="float64", shape=s.type.shape)
        if s.dtype.startswith("int")
        else s.type(name=s.name)
        for s in shared
    ]
    outs = model.replace_rvs_by_values([*model.free_RVs, *model.deterministics])
    outs += model.logp(vars=model.observed_RVs, sum=False)
    logp, *outs = clone_replace(
        [model.logp(), *outs], dict(zip(shared, inputs, strict=True)), rebuild_strict=False
    )
    value_vars = model.value_vars
    logp_fn = get_jaxified_graph(inputs=[*value_vars, *inputs], outputs=[logp])
    out_fn = get_jaxified_graph(inputs=[*value_vars, *inputs], outputs=outs)
    names = [v.name for v in (*model.free_RVs, *model.deterministics)]
    names += [f"log_likelihood.{v.name}" for v in model.observed_RVs]
    return logp_fn, out_fn, [v.name for v in value_vars], [s.name for s in shared], names


def _chain_fn(logp_fn, out_fn, tune: int, draws: int, target_accept: float, max_treedepth: int):
    import jax
    import jax.numpy as jnp
    from jax import lax
    from numpyro.infer import NUTS

    def chain(key, start, data):
        kernel = NUTS(
            potential_fn=lambda z: -logp_fn(*z, *data)[0],
            target_accept_prob=target_accept,
            max_tree_depth=max_treedepth,
        )
        state = kernel.init(key, tune, init_params=start)

        def record(s):
            depth = jnp.floor(jnp.log2(s.num_steps)).astype(jnp.int64) + 1
            stats = (-s.potential_energy, s.diverging, s.energy, s.num_steps, depth)
            stats += (s.accept_prob, s.adapt_state.step_size)
            return tuple(out_fn(*s.z, *data)), stats

        # warmup and draws in one loop, so that XLA compiles the NUTS step once: warmup
        # iterations write to slot 0, which the first draw overwrites
        buf = jax.tree.map(lambda a: jnp.zeros((draws, *a.shape), a.dtype), record(state))

        def step(i, carry):
            s, buf, n_warm = carry
            s = kernel.sample(s, (), {})
            j = jnp.maximum(i - tune, 0)
            buf = jax.tree.map(lambda b, v: b.at[j].set(v), buf, record(s))
            return s, buf, n_warm + jnp.where(i < tune, s.num_steps, 0)

        _, (out, stats), n_warm = lax.fori_loop(0, tune + draws, step, (state, buf, jnp.int64(0)))
        return out, stats, n_warm

    return chain


def chain_program(
    model: pm.Model,
    key: tuple,
    *,
    tune: int,
    draws: int,
    target_accept: float,
    max_treedepth: int = 10,
) -> tuple[ChainProgram, bool]:
    """The compiled chain program of ``model`` and whether it was compiled now (not cached).

    Parameters
    ----------
    model : pm.Model
        The model; only read on a cache miss.
    key : tuple
        What identifies the graph (spec hash, data shapes and dtypes).
    tune, draws, target_accept, max_treedepth
        NUTS settings; they are part of the compiled program.
    """

    def make(logp_fn, out_fn):
        return _chain_fn(logp_fn, out_fn, tune, draws, target_accept, max_treedepth)

    return compiled_program(model, ("nuts", *key, tune, draws, target_accept, max_treedepth), make)


def compiled_program(model: pm.Model, full_key: tuple, make: Callable) -> tuple[ChainProgram, bool]:
    """A cached, compiled single-chain program: ``make(logp_fn, out_fn)`` gives its function.

    The function takes ``(key, start, data)`` (see :class:`ChainProgram`); ``full_key``
    identifies the graph and every setting compiled into the program.
    """
    with _LOCK:
        prog = _CACHE.get(full_key)
        if prog is not None:
            _CACHE.move_to_end(full_key)
            return prog, False
        import jax

        t0 = time.perf_counter()
        logp_fn, out_fn, vnames, dnames, onames = jaxify_model(model)
        fn = make(logp_fn, out_fn)
        ip = model.initial_point()
        start = tuple(np.asarray(ip[n], dtype="float64") for n in vnames)
        data = data_arrays(model, dnames)
        compiled = jax.jit(fn).lower(jax.random.key(0), start, data).compile()
        prog = ChainProgram(
            compiled, tuple(vnames), tuple(dnames), tuple(onames), time.perf_counter() - t0
        )
        _CACHE[full_key] = prog
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return prog, True


def run_chain(
    prog: ChainProgram, seed: int, start: dict, data: tuple, stats: tuple[str, ...] = STATS
) -> tuple[dict, dict, int]:
    """Run one chain: outputs and stats (numpy, leading dim ``draw``), warmup leapfrog steps.

    Parameters
    ----------
    prog : ChainProgram
        The compiled program.
    seed : int
        The chain's sampler seed.
    start : dict
        Unconstrained start, keyed by value-variable name.
    data : tuple
        Data arrays in ``prog.data_names`` order.
    stats : tuple of str
        Names of the program's statistics, in its order.
    """
    import jax

    z0 = tuple(np.asarray(start[n], dtype="float64") for n in prog.value_names)
    out, out_stats, n_warm = prog.run(jax.random.key(seed), z0, data)
    draws = {n: np.asarray(v) for n, v in zip(prog.out_names, out, strict=True)}
    return draws, {n: np.asarray(v) for n, v in zip(stats, out_stats, strict=True)}, int(n_warm)


def data_arrays(model: pm.Model, names: tuple[str, ...] | list[str]) -> tuple[np.ndarray, ...]:
    """The model's data in ``names`` order, as the program takes them (integers as float64)."""
    vals = [np.asarray(model[n].get_value()) for n in names]
    return tuple(v.astype("float64") if v.dtype.kind in "iu" else v for v in vals)


def clear_cache() -> None:
    """Forget every compiled chain program."""
    with _LOCK:
        _CACHE.clear()
