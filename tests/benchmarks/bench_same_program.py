"""Size c: one chain program, four log densities, the same keys and starts, chain by chain.

Every arm runs bayesstack's compiled chain program (``jaxnuts._chain_fn``: numpyro's NUTS,
warmup and draws in one XLA loop) from bayesstack's per-chain starts and sampler seeds; only
the log density differs:

* ``bayesstack``: the PyMC model's graph converted by PyTensor, data as arguments (the default
  route exactly);
* ``bayesstack-const``: the same graph with the data as constants;
* ``hand``: the hand-written numpyro model's potential (data as constants);
* ``hand-args``: the same network written in plain JAX, data as arguments;
* ``checked``: ``bayesstack``'s graph, with the numpyro potential's value and gradient
  computed beside it at every evaluation (leapfrog steps included) and their largest
  difference reported through ``jax.debug.callback`` (about three times slower).

They are the same function (values and gradients agree to about 1e-15 at the states of a chain),
so any difference between arms is rounding, amplified by the sampler. Prints divergences,
adapted step size and mean log density per chain (docs/performance.md, "Size c, chain by chain").

Run:  .venv/bin/python tests/benchmarks/bench_same_program.py [--seed 0] [--chains 12]
      [--arms bayesstack,hand] [--tune 1000] [--draws 1000] [--target-accept 0.8]
      (about 70-150 s per chain and arm, two chains at a time)
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

#: What the ``checked`` arm saw: evaluations, largest relative differences, finite mismatches.
CHECKED = {"evaluations": 0, "value": 0.0, "gradient": 0.0, "finite_mismatch": 0}


def arms(model, size, X, y, names: list[str]) -> dict:
    """``name -> logp_fn(*values, *data)`` for every arm (lists, as ``_jaxify`` returns)."""
    import jax
    import jax.numpy as jnp
    from numpyro.infer.util import initialize_model

    from bayesstack.benchmodels import hand_numpyro
    from bayesstack.jaxnuts import _jaxify, data_arrays

    logp_fn, _, vnames, dnames, _ = _jaxify(model)
    data = data_arrays(model, dnames)
    k = len(vnames)
    pe = initialize_model(jax.random.key(0), hand_numpyro(size), model_args=(X, y)).potential_fn
    site = ["sigma" if n == "sigma_log__" else n for n in vnames]  # numpyro's unconstrained
    log2pi = jnp.log(2 * jnp.pi)

    def hand_args(*args):
        v, (Xa, ya) = dict(zip(vnames, args[:k], strict=True)), args[k:]
        lp = sum(-0.5 * jnp.sum(a**2) - 0.5 * a.size * log2pi for n, a in v.items() if n[0] in "Wb")
        h = Xa
        for i in range(1, len(size.hidden) + 1):
            h = jnp.tanh(h @ v[f"W{i}"] + v[f"b{i}"])
        eta = h @ v[f"W{len(size.hidden) + 1}"] + v[f"b{len(size.hidden) + 1}"]
        s = v["sigma_log__"]
        lp += jnp.log(2.0) - 0.5 * log2pi - 0.5 * jnp.exp(2 * s) + s  # HalfNormal(1), Jacobian
        return [lp + jnp.sum(-0.5 * ((ya - eta) / jnp.exp(s)) ** 2 - s - 0.5 * log2pi)]

    def report(dv, dg, finite_o, finite_h):
        CHECKED["evaluations"] += 1
        CHECKED["value"] = max(CHECKED["value"], float(dv))
        CHECKED["gradient"] = max(CHECKED["gradient"], float(dg))
        CHECKED["finite_mismatch"] += int(bool(finite_o) != bool(finite_h))

    def hand(*a):
        return [-pe(dict(zip(site, a[:k], strict=True)))]

    def checked(*a):
        (vo, go), (vh, gh) = (
            jax.value_and_grad(lambda *z, f=f: f(*z, *a[k:])[0], argnums=tuple(range(k)))(*a[:k])
            for f in (logp_fn, hand)
        )
        go, gh = (jnp.concatenate([jnp.ravel(x) for x in g]) for g in (go, gh))
        dv = jnp.abs(vo - vh) / jnp.maximum(jnp.abs(vh), 1.0)
        dg = jnp.max(jnp.abs(go - gh)) / jnp.maximum(jnp.max(jnp.abs(gh)), 1.0)
        fo, fh = (jnp.isfinite(v) & jnp.all(jnp.isfinite(g)) for v, g in ((vo, go), (vh, gh)))
        jax.debug.callback(report, dv, dg, fo, fh)
        return [vo]

    table = {
        "bayesstack": logp_fn,
        "checked": checked,
        "bayesstack-const": lambda *a: logp_fn(*a[:k], *(jnp.asarray(d) for d in data)),
        "hand": hand,
        "hand-args": hand_args,
    }
    return {n: table[n] for n in names}


def main() -> None:
    """Print each arm's divergences, step size and mean log density per chain."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0, help="data and run seed")
    ap.add_argument("--chains", type=int, default=12)
    ap.add_argument("--arms", default="bayesstack,hand")
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--target-accept", type=float, default=0.8)
    args = ap.parse_args()

    import jax

    jax.config.update("jax_enable_x64", True)
    from bayesstack import backends
    from bayesstack.benchmodels import SIZES
    from bayesstack.builder import build_model
    from bayesstack.jaxnuts import _chain_fn, _jaxify, data_arrays

    size = SIZES["c"]
    X, y = size.data(args.seed)
    model = build_model(size.spec(), X, y)
    _, out_fn, vnames, dnames, _ = _jaxify(model)
    data = data_arrays(model, dnames)
    seeds = backends.chain_seeds(args.seed, args.chains)
    starts = backends.chain_starts(model, [s for s, _ in seeds], "uniform")
    z0 = [tuple(np.asarray(s[n]) for n in vnames) for s in starts]
    names = args.arms.split(",")
    lp_fns = arms(model, size, X, y, names)
    for n, f in lp_fns.items():  # the arms are one function
        print(f"{n}: log density at chain 0's start {float(f(*z0[0], *data)[0]):.10f}")
    progs = {
        n: jax.jit(_chain_fn(f, out_fn, args.tune, args.draws, args.target_accept, 10))
        .lower(jax.random.key(0), z0[0], data)
        .compile()
        for n, f in lp_fns.items()
    }

    def one(job):
        n, c = job
        t = time.perf_counter()
        _, stats, n_warm = progs[n](jax.random.key(seeds[c][1]), z0[c], data)
        lp, div, eps = np.asarray(stats[0]), int(np.asarray(stats[1]).sum()), stats[6][-1]
        grads = int(n_warm) + int(np.asarray(stats[3]).sum())
        print(
            f"{n:<17} chain {c:>2}: divergences {div:>4}, step size {float(eps):.4f}, mean log "
            f"density {lp.mean():.1f}, gradients {grads} ({time.perf_counter() - t:.0f} s)",
            flush=True,
        )
        return n, div

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(one, [(n, c) for c in range(args.chains) for n in names]))
    for n in names:
        d = [v for m, v in done if m == n]
        print(f"{n}: chains with more than 10 divergences {sum(v > 10 for v in d)} of {len(d)}")
    if "checked" in names:
        print(f"checked against the numpyro potential: {CHECKED}")


if __name__ == "__main__":
    main()
