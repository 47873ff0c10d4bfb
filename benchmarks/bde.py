"""Benchmark: bayesstack against ``sklearn-contrib-bde`` (MILE) on the same data and network.

Both fit a ReLU [16] network with N(0, 1) weight priors, ``chains`` chains (bde: ensemble
members) x ``draws`` draws after ``tune`` warmup steps, to standardised X and y (train split
statistics), one after the other in this process and bde's own (a subprocess in
``.venv-bde``, made by ``benchmarks/make_bde_venv.sh``: bde pins blackjax 1.2.2, so it is never
our dependency). Every fit compiles from scratch. Per fit: wall time (fit and test-set
predictions, compilation included, imports excluded), test RMSE of the posterior predictive
mean, test NLPD (minus the mean over test points of the log of the posterior mean predictive
density), and ESS/s of η at the test points (bulk ESS by ArviZ on the draws, the median over
test points, per second of wall time).

bde's likelihood is location-scale (σ is a second output of the network). A route ending in
``@ls`` fits bayesstack's ``gaussian_location_scale`` family, the same likelihood (like for
like); the other routes fit the homoscedastic ``gaussian`` family (one σ). NLPD compares each
as it is; RMSE compares the means (for ``@ls``: μ's η).

Data sets (nothing downloaded): ``diabetes`` (scikit-learn, 442 x 10), ``engel`` (statsmodels,
235 x 1: food expenditure against income) and ``teacher`` (bayesstack's ``teacher-gaussian``,
200 x 2), each split 80/20 with a fixed seed.

Run:  .venv/bin/python -m benchmarks bde [--datasets diabetes,engel,teacher]
      [--routes bde,numpyro,numpyro+map,adjusted_mclmc+map,mclmc+map,...@ls] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import math
import os
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bayesstack.errors import BayesstackError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
BDE_PYTHON = ROOT / ".venv-bde" / "bin" / "python"
RUNNER = Path(__file__).resolve().with_name("bde_runner.py")
DATASETS = ("diabetes", "engel", "teacher")
ROUTES = (
    "bde",
    "numpyro",
    "numpyro+map",
    "adjusted_mclmc+map",
    "mclmc+map",
    "adjusted_mclmc+map@ls",
    "mclmc+map@ls",
)
#: Route suffix for the location-scale family (bde's likelihood).
LOCATION_SCALE = "@ls"
HIDDEN, ACTIVATION = (16,), "relu"
TEST_FRAC = 0.2
#: Targets for a route that keeps the posterior exact, against bde.
WALL_MAX, NLPD_MARGIN, RMSE_TOL = 1.0, 0.02, 0.02


@dataclass(frozen=True)
class Split:
    """A standardised train/test split (statistics of the training rows)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


@dataclass(frozen=True)
class BdeRow:
    """One fit: route, wall seconds, test RMSE and NLPD, ESS of η at the test points."""

    dataset: str
    route: str
    seed: int
    chains: int
    draws: int
    wall: float
    rmse: float
    nlpd: float
    ess: float
    ess_per_s: float
    dropped: int = 0

    def to_dict(self) -> dict:
        """Plain dict of the row."""
        return asdict(self)


# --- data -------------------------------------------------------------------------------------
def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The raw features and response of a benchmark data set."""
    if name == "diabetes":
        from sklearn.datasets import load_diabetes  # bundled with scikit-learn, a dependency

        d = load_diabetes()
        return np.asarray(d.data, float), np.asarray(d.target, float)
    if name == "engel":
        import statsmodels.api as sm

        df = sm.datasets.engel.load_pandas().data
        return df[["income"]].to_numpy(float), df["foodexp"].to_numpy(float)
    if name == "teacher":
        from bayesstack.data.builtin import load_dataset

        ds = load_dataset("teacher-gaussian", standardize=False)
        return np.asarray(ds.X, float), np.asarray(ds.y, float)
    raise BayesstackError(f"datasets: unknown {name!r}; choose from {', '.join(DATASETS)}")


def split(name: str, X: np.ndarray, y: np.ndarray, seed: int = 0) -> Split:
    """Shuffle with ``seed``, hold out :data:`TEST_FRAC`, standardise by the training rows."""
    idx = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, round(TEST_FRAC * len(y)))
    te, tr = idx[:n_test], idx[n_test:]
    mx, sx = X[tr].mean(0), X[tr].std(0)
    my, sy = y[tr].mean(), y[tr].std()
    return Split(name, (X[tr] - mx) / sx, (y[tr] - my) / sy, (X[te] - mx) / sx, (y[te] - my) / sy)


# --- metrics ----------------------------------------------------------------------------------
def finite_chains(eta: np.ndarray, loglik: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Drop chains (bde: members) with a non-finite η or log-likelihood; how many dropped."""
    ok = np.isfinite(eta).all(axis=(1, 2)) & np.isfinite(loglik).all(axis=(1, 2))
    return eta[ok], loglik[ok], int((~ok).sum())


def metrics(eta: np.ndarray, loglik: np.ndarray, y_test: np.ndarray) -> tuple[float, float, float]:
    """Test RMSE, NLPD and the median bulk ESS of η; arrays are ``(chain, draw, n_test)``."""
    import arviz as az
    import xarray as xr
    from scipy.special import logsumexp

    rmse = float(np.sqrt(np.mean((eta.mean(axis=(0, 1)) - y_test) ** 2)))
    ll = loglik.reshape(-1, loglik.shape[-1])
    nlpd = float(-np.mean(logsumexp(ll, axis=0) - math.log(ll.shape[0])))
    ds = xr.Dataset({"eta": (("chain", "draw", "obs"), eta)})
    ess = float(np.median(np.asarray(az.ess(ds, method="bulk")["eta"])))
    return rmse, nlpd, ess


# --- the two sides ----------------------------------------------------------------------------
def fit_bde(
    data: Split, chains: int, draws: int, tune: int, seed: int, python: Path = BDE_PYTHON
) -> tuple[np.ndarray, np.ndarray, float]:
    """Bde in its own environment: location and scale ``(members, draws, n_test)``, wall."""
    if not Path(python).exists():
        raise BayesstackError(
            f"bde: no {python}; make it with `bash benchmarks/make_bde_venv.sh` (it installs "
            "sklearn-contrib-bde in its own virtual environment)"
        )
    cfg = {
        "members": chains,
        "hidden": list(HIDDEN),
        "activation": ACTIVATION,
        "draws": draws,
        "tune": tune,
        "seed": seed,
    }
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(src, X_train=data.X_train, y_train=data.y_train, X_test=data.X_test)
        done = subprocess.run(
            # -P: not the runner's folder on sys.path, where bde.py would shadow bde
            [str(python), "-P", str(RUNNER), str(src), str(dst), json.dumps(cfg)],
            capture_output=True,
            text=True,
            check=False,
            env=bde_env(),
        )
        if done.returncode != 0:
            raise BayesstackError(f"bde: the runner failed: {done.stderr.strip()[-500:]}")
        out = np.load(dst)
        log.info("bde versions: %s", out["versions"])
        return np.asarray(out["mu"]), np.asarray(out["scale"]), float(out["wall"])


def bde_env() -> dict[str, str]:
    """The environment for bde's subprocess: ours without ``XLA_FLAGS``.

    PyMC's import asks JAX for many CPU devices; bde maps over devices and then fails on some
    data shapes.
    """
    return {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}


def bde_loglik(mu: np.ndarray, scale: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pointwise Gaussian log-likelihood of bde's location-scale predictions."""
    z = (y - mu) / scale
    return -0.5 * z**2 - np.log(scale) - 0.5 * math.log(2 * math.pi)


def spec(family: str = "gaussian"):
    """The network both sides fit: ReLU [16], N(0, 1) priors, a Gaussian likelihood.

    ``family="gaussian_location_scale"`` is bde's likelihood: log σ is a second output.
    """
    from bayesstack.spec import Layer, Spec

    name = "bde-relu16" if family == "gaussian" else "bde-relu16-ls"
    return Spec(name, family, layers=tuple(Layer(h, ACTIVATION) for h in HIDDEN))


def parse_route(route: str) -> tuple[str, str, str]:
    """``SAMPLER[+INIT][@ls]`` -> (sampler, init or "", family)."""
    base, at, fam = route.partition("@")
    if at and f"@{fam}" != LOCATION_SCALE:
        raise BayesstackError(f"routes: unknown {route!r}; e.g. {', '.join(ROUTES)}")
    sampler, _, init = base.partition("+")
    return sampler, init, "gaussian_location_scale" if at else "gaussian"


def fit_bayesstack(
    data: Split, route: str, chains: int, draws: int, tune: int, seed: int
) -> tuple[np.ndarray, np.ndarray, float]:
    """``bs.fit`` by ``route`` (``sampler[+init][@ls]``): η and log-likelihood at the test points.

    η is μ's linear predictor for the location-scale family.
    """
    import pymc as pm

    from bayesstack.inference.backends import clear_caches
    from bayesstack.inference.sampling import fit
    from bayesstack.model.builder import build_model
    from bayesstack.model.network import forward, mean_eta, weight_names

    sampler, init, family = parse_route(route)
    s = spec(family)
    clear_caches()  # every fit compiles, as bde's does
    t0 = time.perf_counter()
    run = fit(
        s,
        data.X_train,
        data.y_train,
        chains=chains,
        draws=draws,
        tune=tune,
        seed=seed,
        sampler=sampler,
        init=init or "uniform",
    )
    wall = time.perf_counter() - t0
    post = run["posterior"]
    eta = np.asarray(
        mean_eta(s, forward(s, {k: post[k].values for k in weight_names(s)}, data.X_test))
    )
    model = build_model(s, data.X_test, data.y_test)
    ll = pm.compute_log_likelihood(run, model=model, extend_inferencedata=False, progressbar=False)
    return eta, np.asarray(ll["y"].values), wall


# --- the harness ------------------------------------------------------------------------------
def run_bde_bench(
    datasets: Sequence[str] = DATASETS,
    routes: Sequence[str] = ROUTES,
    *,
    chains: int = 8,
    draws: int = 1000,
    tune: int = 1000,
    seed: int = 0,
    python: Path = BDE_PYTHON,
    on_row=None,
) -> list[BdeRow]:
    """Fit every data set by every route, one after the other; see the module docstring.

    ``draws`` of a row are the kept draws (bde keeps every second of its ``draws`` steps);
    chains whose η is not finite are left out of the metrics and counted in ``dropped``.
    ``on_row(rows)`` is called after every fit.
    """
    from bayesstack.inference.settings import INITS, SAMPLERS

    for r in routes:
        sampler, init, _ = ("bde", "", "") if r == "bde" else parse_route(r)
        if r != "bde" and (sampler not in SAMPLERS or (init and init not in INITS)):
            raise BayesstackError(f"routes: unknown {r!r}; e.g. {', '.join(ROUTES)}")
    rows = []
    for name in datasets:
        data = split(name, *load(name), seed=seed)
        for route in routes:
            log.info("bde bench: %s, %s", name, route)
            if route == "bde":
                mu, scale, wall = fit_bde(data, chains, draws, tune, seed, python)
                eta, ll = mu, bde_loglik(mu, scale, data.y_test)
            else:
                eta, ll, wall = fit_bayesstack(data, route, chains, draws, tune, seed)
            eta, ll, dropped = finite_chains(eta, ll)
            rmse, nlpd, ess = metrics(eta, ll, data.y_test)
            row = BdeRow(name, route, seed, chains, eta.shape[1], wall, rmse, nlpd, ess, ess / wall)
            rows.append(dataclasses.replace(row, dropped=dropped))
            if on_row is not None:
                on_row(rows)
    return rows


def to_markdown(rows: Sequence[BdeRow]) -> str:
    """The results, and every route against bde with the targets (✓ where met)."""
    head = (
        "| data | route | chains × kept draws | wall s | test RMSE | test NLPD | ESS(η) "
        "| ESS(η)/s |\n|---|---|---|---|---|---|---|---|\n"
    )
    body = "".join(
        f"| {r.dataset} | {r.route} | {r.chains - r.dropped}"
        f"{f' (of {r.chains})' if r.dropped else ''} × {r.draws} | {r.wall:.1f} "
        f"| {r.rmse:.3f} | {r.nlpd:.3f} | {r.ess:.0f} | {r.ess_per_s:.1f} |\n"
        for r in rows
    )
    bde = {r.dataset: r for r in rows if r.route == "bde"}
    rat = (
        f"\n| data | route | wall / bde (≤ {WALL_MAX}) | NLPD − bde (≤ {NLPD_MARGIN}) "
        f"| RMSE / bde (≤ {1 + RMSE_TOL}) | ESS/s / bde | all three |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    for r in rows:
        b = bde.get(r.dataset)
        if b is None or r.route == "bde":
            continue
        w, n, e = r.wall / b.wall, r.nlpd - b.nlpd, r.rmse / b.rmse
        ok = w <= WALL_MAX and n <= NLPD_MARGIN and e <= 1 + RMSE_TOL
        rat += (
            f"| {r.dataset} | {r.route} | {w:.2f} | {n:+.3f} | {e:.3f} "
            f"| {r.ess_per_s / b.ess_per_s:.2f} | {'yes' if ok else 'no'} |\n"
        )
    return head + body + rat


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks bde``."""
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--routes", default=",".join(ROUTES), help="bde or SAMPLER[+INIT]")
    p.add_argument("--chains", type=int, default=8)
    p.add_argument("--draws", type=int, default=1000)
    p.add_argument("--tune", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0, help="split and sampler seed")
    p.add_argument("--bde-python", type=Path, default=BDE_PYTHON)
    p.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")


def run(a: argparse.Namespace) -> None:
    """Run the bde benchmark and print Markdown tables."""

    def save(rows):
        if a.json:
            a.json.write_text(json.dumps([r.to_dict() for r in rows], indent=1))

    rows = run_bde_bench(
        a.datasets.split(","),
        a.routes.split(","),
        chains=a.chains,
        draws=a.draws,
        tune=a.tune,
        seed=a.seed,
        python=a.bde_python,
        on_row=save,
    )
    print(to_markdown(rows), flush=True)
