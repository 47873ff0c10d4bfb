"""Size c: the default route and hand-written numpyro from the same per-chain starts.

Divergences and adapted step size per chain for both: are the default route's divergences at
size c the sampler's or the starts'? (docs/performance.md).

Run:  .venv/bin/python tests/benchmarks/bench_same_starts.py [--seeds 0,2] [--chains 2]
      (about 8 minutes with the defaults; 8 chains per seed take about 5 minutes per route)
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    """Print divergences and step sizes per chain of both routes from the same starts."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,2", help="data and sampler seeds")
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--routes", default="bayesstack,hand", help="which routes to run")
    args = ap.parse_args()
    chains, routes = args.chains, args.routes.split(",")

    from bayesstack import backends, bench

    bench.configure_jax(chains)  # before JAX starts: one device per numpyro parallel chain
    import jax
    from numpyro.infer import MCMC, NUTS

    from bayesstack.benchmodels import SIZES, hand_numpyro
    from bayesstack.builder import build_model
    from bayesstack.sampling import fit

    size = SIZES["c"]
    for seed in (int(s) for s in args.seeds.split(",")):
        X, y = size.data(seed)
        if "bayesstack" in routes:
            t = time.perf_counter()
            run = fit(size.spec(), X, y, chains=chains, tune=1000, draws=1000, seed=seed)
            stats = run["sample_stats"]
            div = stats["diverging"].sum("draw").values.tolist()
            eps = np.round(stats["step_size"].isel(draw=-1).values, 4).tolist()
            print(f"seed {seed} bayesstack: divergences {div}, step sizes {eps}", flush=True)
            print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)
        if "hand" not in routes:
            continue

        model = build_model(size.spec(), X, y)
        seeds = [s for s, _ in backends.chain_seeds(seed, chains)]
        starts = backends.chain_starts(model, seeds, "uniform")
        init = {
            ("sigma" if k == "sigma_log__" else k): np.stack([z[k] for z in starts])
            for k in starts[0]
        }
        mcmc = MCMC(
            NUTS(hand_numpyro(size)),
            num_warmup=1000,
            num_samples=1000,
            num_chains=chains,
            chain_method="parallel",
            progress_bar=False,
        )
        t = time.perf_counter()
        mcmc.run(
            jax.random.key(seed), X, y, init_params=init, extra_fields=("adapt_state.step_size",)
        )
        extra = mcmc.get_extra_fields(group_by_chain=True)
        d = np.asarray(extra["diverging"]).sum(1).tolist()
        eps = np.round(np.asarray(extra["adapt_state.step_size"])[:, -1], 4).tolist()
        print(f"seed {seed} hand numpyro, same starts: divergences {d}, step sizes {eps}")
        print(f"  ({time.perf_counter() - t:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
