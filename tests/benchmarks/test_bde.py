"""The bde benchmark harness, with a stub in place of bde's subprocess."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from bayesstack.errors import BayesstackError
from benchmarks import bde, mclmc


class FakeBde:
    """Stands in for `.venv-bde/bin/python -P bde_runner.py IN OUT CFG`."""

    def __init__(self, returncode=0):
        self.calls, self.returncode = [], returncode

    def __call__(self, cmd, **kw):
        self.calls.append(cmd)
        _, flag, runner, src, dst, cfg = cmd
        assert flag == "-P" and Path(runner) == bde.RUNNER
        cfg = json.loads(cfg)
        d = np.load(src)
        n = len(d["X_test"])
        shape = (cfg["members"], cfg["draws"], n)
        mu = np.random.default_rng(0).normal(0.0, 0.1, shape)
        np.savez(dst, mu=mu, scale=np.ones(shape), wall=2.0, versions='{"bde": "stub"}')

        class Done:
            returncode, stderr = self.returncode, "boom"

        return Done()


def test_split_standardises_by_the_training_rows():
    X = np.arange(50.0)[:, None] * [1.0, 3.0]
    y = np.arange(50.0) * 2 + 7
    s = bde.split("x", X, y, seed=1)
    assert len(s.y_test) == 10 and len(s.y_train) == 40
    np.testing.assert_allclose(s.X_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(s.X_train.std(0), 1)
    assert abs(s.y_train.mean()) < 1e-12 and s.y_train.std() == pytest.approx(1)
    again = bde.split("x", X, y, seed=1)
    np.testing.assert_array_equal(again.X_test, s.X_test)


def test_chains_with_nan_are_dropped_and_counted():
    eta = np.zeros((3, 4, 2))
    eta[1, 2, 0] = np.nan
    e, ll, n = bde.finite_chains(eta, np.zeros_like(eta))
    assert n == 1 and e.shape == (2, 4, 2) and ll.shape == (2, 4, 2)


def test_metrics_known_answers():
    rng = np.random.default_rng(0)
    y = rng.normal(size=5)
    eta = np.broadcast_to(y + 0.5, (2, 100, 5)).copy()
    ll = bde.bde_loglik(eta, np.ones_like(eta), y)
    rmse, nlpd, _ = bde.metrics(eta + rng.normal(0, 1e-3, eta.shape), ll, y)
    assert rmse == pytest.approx(0.5, abs=1e-3)
    assert nlpd == pytest.approx(0.5 * math.log(2 * math.pi) + 0.125)
    iid = rng.normal(size=(4, 400, 3))
    assert bde.metrics(iid, iid, np.zeros(3))[2] > 800  # ArviZ's bulk ESS of iid draws


def test_bde_route_through_a_stub(monkeypatch, tmp_path):
    fake = FakeBde()
    monkeypatch.setattr(bde.subprocess, "run", fake)
    python = tmp_path / "python"
    python.touch()
    rows = bde.run_bde_bench(["teacher"], ["bde"], chains=3, draws=20, tune=5, python=python)
    (r,) = rows
    assert (r.dataset, r.route, r.chains, r.draws, r.wall) == ("teacher", "bde", 3, 20, 2.0)
    assert r.rmse > 0 and r.nlpd > 0 and r.ess > 0 and r.ess_per_s == r.ess / 2.0
    cfg = json.loads(fake.calls[0][-1])
    assert cfg == {
        "members": 3,
        "hidden": [16],
        "activation": "relu",
        "draws": 20,
        "tune": 5,
        "seed": 0,
    }


def test_bde_failures_are_one_line_errors(monkeypatch, tmp_path):
    data = bde.split("t", *bde.load("teacher"))
    with pytest.raises(BayesstackError, match=r"make_bde_venv\.sh"):
        bde.fit_bde(data, 2, 5, 5, 0, python=tmp_path / "missing")
    monkeypatch.setattr(bde.subprocess, "run", FakeBde(returncode=1))
    python = tmp_path / "python"
    python.touch()
    with pytest.raises(BayesstackError, match="runner failed: boom"):
        bde.fit_bde(data, 2, 5, 5, 0, python=python)
    with pytest.raises(BayesstackError, match="unknown 'hmc'"):
        bde.run_bde_bench(["teacher"], ["hmc"], python=python)
    with pytest.raises(BayesstackError, match="unknown 'iris'"):
        bde.load("iris")


def test_markdown_states_the_targets():
    def row(route, wall, rmse, nlpd):
        return bde.BdeRow("d", route, 0, 8, 1000, wall, rmse, nlpd, 100.0, 100.0 / wall)

    rows = [row("bde", 10.0, 0.70, 1.00), row("numpyro", 9.0, 0.71, 1.01)]
    rows.append(row("mclmc+map", 5.0, 0.80, 1.00))
    md = bde.to_markdown(rows)
    assert "| d | numpyro | 0.90 | +0.010 | 1.014 | 1.11 | yes |" in md
    assert "| d | bde | 8 × 1000 | 10.0 | 0.700 | 1.000 | 100 | 10.0 |" in md
    assert "| d | mclmc+map | 0.50 | +0.000 | 1.143 | 2.00 | no |" in md


def test_trapped_chains_and_size_ratios():
    lp = np.zeros((4, 10))
    lp[2, 5:] = -30.0  # trapped by the end
    lp[3, :5] = -30.0  # left the light mode: not trapped
    np.testing.assert_array_equal(mclmc.trapped_chains(lp), [2])
    rows = [
        mclmc.SizeRow("c", "numpyro", 0, 2, 100.0, 50.0, 20.0, 0),
        mclmc.SizeRow("c", "mclmc+map", 0, 2, 10.0, 40.0, 10.0, 0),
    ]
    md = mclmc.sizes_markdown(rows)
    assert "| c | mclmc+map | 0 | 10.0 | 40 | 4.00 | 8.00 | 10 | 1.00 | 5.00 | 0 |" in md
    trap = [mclmc.TrapRow("numpyro", s, 8, t, 5, 1, 1.0) for s, t in ((0, 2), (1, 0))]
    assert "| numpyro | 2 | 2 of 16 | 12.5 % | 5–5 | 1 | 1.0 |" in mclmc.trapped_markdown(trap)


def test_bde_runs_without_our_xla_flags(monkeypatch):
    """PyMC's import sets XLA_FLAGS (many CPU devices); bde's subprocess must not inherit it."""
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=100")
    assert "XLA_FLAGS" not in bde.bde_env()


def test_location_scale_route_is_bdes_likelihood():
    """``@ls`` routes fit gaussian_location_scale (its log density is checked against scipy in
    tests/model/test_location_scale.py); η is μ's, one value per chain, draw and test point."""
    assert bde.parse_route("mclmc+map@ls") == ("mclmc", "map", "gaussian_location_scale")
    assert bde.parse_route("numpyro") == ("numpyro", "", "gaussian")
    with pytest.raises(BayesstackError, match="unknown 'numpyro@t'"):
        bde.parse_route("numpyro@t")
    assert bde.spec("gaussian_location_scale").outputs == ("mu", "log_sigma")
    data = bde.split("t", *bde.load("teacher"))
    data = bde.Split("t", data.X_train[:40], data.y_train[:40], data.X_test[:5], data.y_test[:5])
    eta, ll, wall = bde.fit_bayesstack(data, "numpyro@ls", chains=2, draws=20, tune=20, seed=0)
    assert eta.shape == ll.shape == (2, 20, 5) and wall > 0
    assert np.isfinite(eta).all() and np.isfinite(ll).all()
