"""The geometry and summary commands' evidence options: one-line errors, and the chain
weights a saved analysed run carries into ``summary``."""

import json

import numpy as np
import pytest

import bayesstack as bs
from bayesstack.cli import main
from bayesstack.spec import Layer, Spec
from bayesstack.testing import run_from_draws


def _run(tmp_path):
    rng = np.random.default_rng(0)
    spec = Spec(name="t", family="gaussian", layers=(Layer(2, "tanh"),))
    X = rng.normal(size=(30, 1))
    w = {"W1": np.array([[1.0, -0.8]]), "b1": np.array([0.2, -0.1]), "W2": np.array([1.2, 0.9])}
    w["b2"] = np.array(0.1)
    y = bs.model.forward(spec, w, X) + 0.3 * rng.normal(size=30)
    draws = {k: v + 0.05 * rng.normal(size=(2, 60, *np.shape(v))) for k, v in w.items()}
    draws["sigma"] = 0.3 * np.exp(0.05 * rng.normal(size=(2, 60)))
    return bs.save(run_from_draws(spec, X, y, draws, logp="model"), tmp_path / "a.nc")


def _cli(args, monkeypatch, capsys, code=0):
    assert main([str(a) for a in args]) == code
    return capsys.readouterr()


def test_bad_min_mass_and_weights_are_one_line_errors(tmp_path, monkeypatch, capsys):
    run = _run(tmp_path)
    err = _cli(["geometry", run, "--min-mass", "1.5"], monkeypatch, capsys, code=2).err
    assert err.startswith("error: --min-mass: must be a number in (0, 1)") and err.count("\n") == 1
    err = _cli(["summary", run, "--weights", "mass"], monkeypatch, capsys, code=2).err
    assert "--weights: use stacking or equal" in err and err.count("\n") == 1


def test_geometry_json_and_saved_weights_reach_summary(tmp_path, monkeypatch, capsys):
    run = _run(tmp_path)
    args = ["geometry", run, "--json", tmp_path / "g.json", "--save-canonical", tmp_path / "c.nc"]
    out = _cli(args, monkeypatch, capsys).out
    assert "verdict" in out and "mode class 0" in out
    d = json.loads((tmp_path / "g.json").read_text())
    for key in ("mode_classes", "chain_weights", "trapped_chains", "rhat_max_canonical_mass",
                "rhat_max_function_mass", "curvature_parameter_effects_draws",
                "jacobian_condition"):  # fmt: skip
        assert key in d
    assert sum(d["chain_weights"]) == pytest.approx(1.0)
    saved = bs.load(tmp_path / "c.nc")
    np.testing.assert_allclose(saved["chain_weights"]["stacking"].values, d["chain_weights"])
    out = _cli(["summary", tmp_path / "c.nc"], monkeypatch, capsys).out
    assert "stacking weights: every chain carries weight" in out
