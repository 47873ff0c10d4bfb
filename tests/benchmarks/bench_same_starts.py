"""Size c: the default route and hand-written numpyro from the same per-chain starts.

Divergences per chain for both, seeds 0 and 2: are the default route's divergences at size c
the sampler's or the starts'? (docs/performance.md).

Run:  .venv/bin/python tests/benchmarks/bench_same_starts.py   (about 8 minutes)
"""

from __future__ import annotations

import time

import numpy as np


def main() -> None:
    """Print divergences per chain of both routes from the same starts."""
    from bayesstack import backends, bench

    bench.configure_jax(2)  # before JAX starts: two devices for numpyro's parallel chains
    import jax
    from numpyro.infer import MCMC, NUTS

    from bayesstack.benchmodels import SIZES, hand_numpyro
    from bayesstack.builder import build_model
    from bayesstack.sampling import fit

    size = SIZES["c"]
    for seed in (0, 2):
        X, y = size.data(seed)
        t = time.perf_counter()
        run = fit(size.spec(), X, y, chains=2, tune=1000, draws=1000, seed=seed)
        div = run["sample_stats"]["diverging"].sum("draw").values.tolist()
        print(f"seed {seed} bayesstack: {div} ({time.perf_counter() - t:.0f} s)", flush=True)

        model = build_model(size.spec(), X, y)
        seeds = [s for s, _ in backends.chain_seeds(seed, 2)]
        starts = backends.chain_starts(model, seeds, "uniform")
        init = {
            ("sigma" if k == "sigma_log__" else k): np.stack([z[k] for z in starts])
            for k in starts[0]
        }
        mcmc = MCMC(
            NUTS(hand_numpyro(size)),
            num_warmup=1000,
            num_samples=1000,
            num_chains=2,
            chain_method="parallel",
            progress_bar=False,
        )
        t = time.perf_counter()
        mcmc.run(jax.random.key(seed), X, y, init_params=init)
        d = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["diverging"]).sum(1).tolist()
        print(f"seed {seed} hand numpyro, same starts: {d} ({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
