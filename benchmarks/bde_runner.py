"""Fit ``sklearn-contrib-bde`` on one data set; run by ``python -m benchmarks bde``, never imported.

It runs in bde's own virtual environment (``make .venv-bde``), so it imports neither
bayesstack nor anything of this checkout. Usage::

    .venv-bde/bin/python -P benchmarks/bde_runner.py IN.npz OUT.npz '{"members": 8, ...}'

``IN.npz`` holds ``X_train, y_train, X_test`` (standardised). ``OUT.npz`` gets ``mu`` and
``scale`` of shape ``(members, draws, n_test)`` (the predictive location and scale, as bde's
own predictions compute them: softplus of the second output + 1e-6), ``wall`` (seconds for
``fit`` and the test-set prediction) and the versions of bde, blackjax and jax.
"""

import json
import sys
import time


def main(argv):
    """Fit, predict the test points, save."""
    from importlib.metadata import version

    import blackjax
    import jax  # bde's default precision (float32), as its users run it
    import numpy as np
    from bde import BdeRegressor

    src, dst, cfg = argv[0], argv[1], json.loads(argv[2])
    d = np.load(src)
    est = BdeRegressor(
        n_members=cfg["members"],
        hidden_layers=cfg["hidden"],
        activation=cfg["activation"],
        n_samples=cfg["draws"],
        warmup_steps=cfg["tune"],
        seed=cfg["seed"],
    )
    t0 = time.perf_counter()
    est.fit(d["X_train"], d["y_train"])
    raw = np.asarray(est.predict(d["X_test"], raw=True))  # (members, draws, n_test, 2)
    wall = time.perf_counter() - t0
    mu = raw[..., 0]
    scale = np.log1p(np.exp(-np.abs(raw[..., 1]))) + np.maximum(raw[..., 1], 0) + 1e-6
    np.savez(
        dst,
        mu=mu,
        scale=scale,
        wall=wall,
        versions=json.dumps(
            {
                "sklearn-contrib-bde": version("sklearn-contrib-bde"),
                "blackjax": blackjax.__version__,
                "jax": jax.__version__,
            }
        ),
    )


if __name__ == "__main__":
    main(sys.argv[1:])
