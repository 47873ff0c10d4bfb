"""The verdict decided by mass: the rule on numbers, and runs with known mode classes.

Runs are built with :func:`bayesstack.testing.mode_run`: each chain is a NUTS
chain started at a chosen optimum of the real posterior (stack2-tanh on the teacher data has
a best class at log density -54.9 and a local optimum at -71.1, found from seeded dispersed
starts). One test fits a tanh stack with ``bayesstack.fit`` from dispersed starts.
"""

import math
import time

import numpy as np
import pytest

from bayesstack.data.builtin import load_dataset
from bayesstack.geometry import BEYOND, LIKELIHOOD, SYMMETRIC, UNIMODAL, Verdict, analyze
from bayesstack.geometry.density import Density
from bayesstack.geometry.evidence import ModeClass, assign_shares, decide, stabiliser_order
from bayesstack.model.builder import build_model
from bayesstack.model.network import flatten
from bayesstack.spec import Layer, Spec, load_spec
from bayesstack.testing import mode_run


def cls(index, log_mass, chains=(), lik=(), orbit=48):
    return ModeClass(
        index=index, optima=(index,), chains=tuple(chains), map_logp=-float(index),
        mean_logp=None, orbit_size=orbit, stabiliser_order=1, log_mass_laplace=log_mass,
        log_mass_draws=log_mass if chains else None, likelihood_images=tuple(lik),
    )  # fmt: skip


# --- the rule on numbers ------------------------------------------------------------------------
def test_a_class_fifty_nats_down_is_trapped_and_does_not_make_beyond():
    classes = assign_shares([cls(0, 0.0, range(7)), cls(1, -50.0, [7])])
    assert [c.mass_bearing for c in classes] == [True, False]
    assert classes[1].mass_share == pytest.approx(math.exp(-50), rel=1e-6)
    assert decide(classes, posterior_order=48) == SYMMETRIC


def test_two_classes_of_equal_mass_are_beyond_symmetry():
    classes = assign_shares([cls(0, 0.0, range(4)), cls(1, 0.0, range(4, 8))])
    assert [c.mass_share for c in classes] == pytest.approx([0.5, 0.5])
    assert decide(classes, posterior_order=48) == BEYOND
    lik = assign_shares([cls(0, 0.0, range(4), lik=[1]), cls(1, -1.0, range(4, 8), lik=[0])])
    assert decide(lik, posterior_order=2) == LIKELIHOOD


def test_min_mass_is_the_cut():
    classes = [cls(0, 0.0, range(7)), cls(1, -5.0, [7])]  # share 0.0067
    assert decide(assign_shares(classes, 1e-3), posterior_order=48) == BEYOND
    assert decide(assign_shares(classes, 1e-2), posterior_order=48) == SYMMETRIC
    with pytest.raises(ValueError, match="min_mass"):
        assign_shares(classes, 0.0)


def test_unimodal_only_for_a_fixed_point_of_the_group():
    one = assign_shares([cls(0, 0.0, [0], orbit=1)])
    assert decide(one, posterior_order=1) == UNIMODAL
    assert decide(one, posterior_order=48) == UNIMODAL  # a fixed point: orbit of one
    generic = assign_shares([cls(0, 0.0, [0], orbit=48)])
    assert decide(generic, posterior_order=48) == SYMMETRIC  # one chain still has 48 images
    assert Verdict.SYMMETRIC == "symmetric multimodality" and isinstance(SYMMETRIC, str)


def test_stabiliser_of_duplicate_and_dead_units():
    v = np.array([[1.0, 2.0, 3.0], [-4.0, 1.0, 0.5], [0.3, -0.2, 1.0]])
    assert stabiliser_order([(v, True)], 0.1) == 1  # generic
    dup = np.array([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0], [0.3, -0.2, 1.0]])
    assert stabiliser_order([(dup, True)], 0.1) == 2  # equal up to sign: swap with flips
    assert stabiliser_order([(dup, False)], 0.1) == 1  # no flips: not equal
    dead = np.array([[0.0, 0.0, 0.01], [0.0, 0.0, 0.0], [0.3, -0.2, 1.0]])
    assert stabiliser_order([(dead, True)], 0.1) == 8  # two dead units: 2! * 2^2


# --- runs with known classes --------------------------------------------------------------------
def stack2_starts():
    """Seeded dispersed starts of stack2-tanh: #6 reaches the best class, #15 the local optimum
    16 nats lower (see the module docstring)."""
    spec = load_spec("stack2-tanh")
    ds = load_dataset("teacher-gaussian")
    size = Density(build_model(spec, ds.X, ds.y), spec).size
    kids = np.random.SeedSequence(0).spawn(16)
    starts = [np.random.default_rng(k).normal(0.0, 1.5, size=size) for k in kids]
    return spec, ds, [starts[6], starts[15]]


@pytest.fixture(scope="module")
def planted():
    """Five chains in images of the best mode, chain 5 in the local mode."""
    spec, ds, starts = stack2_starts()
    run, lps = mode_run(spec, ds.X, ds.y, starts, [0, 0, 0, 0, 0, 1], 200, seed=1)
    assert lps[0] - lps[1] > 15  # the planted mode is 16 nats down at its optimum
    return run, analyze(run, seed=0, curvature_draws=0)


def test_planted_local_mode_is_trapped_not_beyond(planted):
    _, res = planted
    d = res.to_dict()
    assert res.verdict == SYMMETRIC and d["verdict"] == "symmetric multimodality"
    assert d["trapped_chains"] == [5]
    assert len(d["mode_classes"]) == 2
    best, local = d["mode_classes"]
    assert best["chains"] == [0, 1, 2, 3, 4] and best["mass_bearing"]
    assert local["chains"] == [5] and not local["mass_bearing"] and local["mass_share"] < 1e-3
    # both estimates put the local class below min_mass (the modes are not Gaussian: stack2's
    # parameter-effects curvature is large, so the two disagree by a few nats, as reported)
    assert local["log_mass_laplace"] - best["log_mass_laplace"] < math.log(1e-3)
    assert local["log_mass_draws"] - best["log_mass_draws"] < math.log(1e-3)
    assert best["log_mass_disagreement"] == pytest.approx(
        best["log_mass_draws"] - best["log_mass_laplace"]
    )
    # the trapped chain gets no weight; the five mass-bearing ones share it equally
    assert d["chain_weights"] == pytest.approx([0.2] * 5 + [0.0], abs=1e-12)
    assert any("chain 5 did not sample the posterior" in w for w in d["warnings"])
    assert d["rhat_max_canonical_mass"] is not None and d["mass_chains"] == [0, 1, 2, 3, 4]
    cw = res.run["chain_weights"]
    np.testing.assert_allclose(cw["stacking"].values, d["chain_weights"])
    assert "one mass-bearing mode class" in cw.attrs["method"]
    assert cw.attrs["method"].endswith("trapped chains 0")


def test_the_same_classes_are_beyond_when_the_local_mode_counts(planted):
    run, res = planted
    share = res.mode_classes[1].mass_share
    low = analyze(run, seed=0, curvature=False, min_mass=share / 10)
    assert low.verdict == BEYOND and low.trapped_chains == ()
    # both classes bear mass now, so both are stacked: equal within a class, summing to 1
    w = np.asarray(low.chain_weights)
    assert w.sum() == pytest.approx(1.0) and np.ptp(w[:5]) < 1e-12
    assert low.chain_weights_method.startswith("stacking of mass-bearing mode classes")


def test_one_chain_of_a_tanh_stack_is_not_unimodal():
    spec = load_spec("stack1-tanh")
    ds = load_dataset("teacher-gaussian")
    size = Density(build_model(spec, ds.X, ds.y), spec).size
    start = np.random.default_rng(0).normal(0.0, 1.0, size=size)
    run, _ = mode_run(spec, ds.X, ds.y, [start], [0], 200, seed=2)
    res = analyze(run, seed=0, curvature=False)
    assert res.chains == 1 and res.mode_classes[0].orbit_size == 48
    assert res.verdict == SYMMETRIC


def test_sigmoid_reflections_are_likelihood_images():
    """Unit 0 reflected: W1[:, 0], b1[0], W2[0] change sign and b2 += W2[0]. Same η, but the
    prior on b2 differs (1.4 nats): not a posterior image."""
    rng = np.random.default_rng(5)
    spec = Spec(name="sig", family="gaussian", layers=(Layer(2, "sigmoid"),))
    X = rng.normal(size=(200, 2))
    teacher = {
        "W1": np.array([[2.0, -1.0], [0.5, 1.5]]), "b1": np.array([0.3, -0.2]),
        "W2": np.array([1.5, -2.0]), "b2": np.array(0.2),
    }  # fmt: skip
    from bayesstack.model.network import forward

    y = forward(spec, teacher, X) + 0.3 * rng.normal(size=200)
    refl = {k: v.copy() for k, v in teacher.items()}
    refl["W1"][:, 0] *= -1
    refl["b1"][0] *= -1
    refl["W2"][0] *= -1
    refl["b2"] = teacher["b2"] + teacher["W2"][0]
    np.testing.assert_allclose(forward(spec, refl, X), forward(spec, teacher, X), atol=1e-12)
    dens = Density(build_model(spec, X, y), spec)
    starts = [dens.flat(flatten(p, spec), {"sigma": 0.3}) for p in (teacher, refl)]
    run, lps = mode_run(spec, X, y, starts, [0, 0, 1, 1], 200, seed=3)
    res = analyze(run, seed=0, curvature=False)
    d = res.to_dict()
    assert len(d["mode_classes"]) == 2 and abs(lps[0] - lps[1]) > 0.5
    assert d["mode_classes"][0]["likelihood_images"] == [1]
    assert all(c["mass_bearing"] for c in d["mode_classes"])
    assert res.verdict == LIKELIHOOD


@pytest.mark.slow
def test_more_map_starts_do_not_flip_the_verdict():
    """0, 20 and 40 dispersed MAP starts: the extra optima (16 nats and more down) are light.
    About 70 s on the 2-core development machine (37 s of it the three analyses)."""
    spec, ds, starts = stack2_starts()
    run, _ = mode_run(spec, ds.X, ds.y, starts[:1], [0, 0, 0, 0], 200, seed=4)
    verdicts, classes = [], []
    t = time.perf_counter()
    for n in (0, 20, 40):
        res = analyze(run, n_map_starts=n, seed=0, curvature=False)
        verdicts.append(res.verdict)
        classes.append(len(res.mode_classes))
    print(f"0/20/40 starts: {verdicts}, classes {classes}, {time.perf_counter() - t:.0f} s")
    assert verdicts == [SYMMETRIC] * 3
    assert classes[0] == 1 and classes[2] > 1  # the starts did find light optima


def test_mcmc_fit_of_a_tanh_stack_is_symmetric_multimodality():
    """A real NUTS fit (4 dispersed chains, short): one mass-bearing class with 48 images."""
    import bayesstack as bs

    run = bs.fit(
        load_spec("stack1-tanh"), load_dataset("teacher-gaussian"),
        chains=4, draws=200, tune=300, seed=3,
    )  # fmt: skip
    res = analyze(run, seed=0, curvature_draws=5)
    d = res.to_dict()
    print({k: d[k] for k in ("verdict", "mode_classes", "chain_weights", "trapped_chains")})
    assert res.verdict == SYMMETRIC
    heavy = [c for c in d["mode_classes"] if c["mass_bearing"]]
    assert len(heavy) == 1 and heavy[0]["orbit_size"] == 48
    assert abs(heavy[0]["log_mass_draws"] - heavy[0]["log_mass_laplace"]) < 1.0
    assert sum(d["chain_weights"]) == pytest.approx(1.0)


def test_deep_linear_orbit_path_is_flat_and_reaches_the_image():
    """Along g(t)·A, g(t) = expm(tK) in O(3) x O(3), the density is constant to 1e-8; the
    path ends on B = h·A for random posterior group elements h (det -1 ones included)."""
    from bayesstack.geometry.paths import orbit_path
    from bayesstack.geometry.symmetry import apply, random_element, symmetry_group
    from bayesstack.model.network import unflatten

    spec = load_spec("deep-linear")
    ds = load_dataset("teacher-gaussian")
    dens = Density(build_model(spec, ds.X, ds.y), spec)
    group = symmetry_group(spec)
    xa = np.random.default_rng(0).normal(0.0, 0.7, size=dens.size)
    p = {k: v[0] for k, v in unflatten(dens.weights(xa)[None], spec, 2).items()}
    t = np.linspace(0.0, 1.0, 41)
    flipped = []
    for s in range(4):
        moved = apply(spec, p, random_element(spec, rng=np.random.default_rng(s)))
        xb = xa.copy()
        xb[dens.weight_index] = flatten(moved, spec)
        path = orbit_path(spec, group, dens, xa, xb, t, 2)
        assert path.variation < 1e-8
        assert path.residual < 1e-8
        assert path.logp[0] == pytest.approx(dens(xa)[0], abs=1e-8)
        flipped.append(path.flipped)
    assert any(flipped) and not all(flipped)  # both components of O(3) x O(3) were reached
