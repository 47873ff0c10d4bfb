"""Mode clustering on synthetic draws with known modes, and images under the symmetry group."""

import numpy as np
import pytest

from bayesstack.geometry.canonical import canonicalize
from bayesstack.geometry.modes import (
    align_to,
    cluster_modes,
    count_orbits,
    mode_pairs,
    segment_bounds,
    within_scale,
)
from bayesstack.geometry.symmetry import apply, random_element
from bayesstack.model.network import flatten, param_shapes, weight_names
from bayesstack.spec import Layer, Spec
from bayesstack.testing import ar1, draws_around

TANH3 = Spec(name="tanh3", family="gaussian", layers=(Layer(3, "tanh"),))
D = 2


def centre(rng):
    """Weights of a tanh[3] net whose units are well apart (distinct, no near-zero weights)."""
    p = {
        "W1": np.array([[2.0, -1.0, 0.5], [0.5, 1.5, -2.0]]),
        "b1": np.array([0.3, -0.6, 1.0]),
        "W2": np.array([1.5, -2.0, 1.0]),
        "b2": np.array(0.4),
    }
    return {k: v + 0.01 * rng.normal(size=np.shape(v)) for k, v in p.items()}


def test_one_blob_is_one_mode(rng):
    x = ar1(rng, (8, 1000, 50))
    cl = cluster_modes(x)
    assert cl.n_modes == 1
    assert cl.modes[0].chains == tuple(range(8))
    assert cl.modes[0].chain_share == pytest.approx(1.0)
    assert cl.switching_chains == ()


def test_two_blobs_are_two_modes_with_their_chains_and_log_density(rng):
    x = ar1(rng, (8, 400, 20))
    x[4:, :, 3] += 10.0  # one coordinate 10 within-mode sds apart
    logp = np.where(np.arange(8)[:, None] < 4, -75.0, 216.0) + rng.normal(size=(8, 400))
    cl = cluster_modes(x, logp=logp)
    assert cl.n_modes == 2
    assert cl.modes[0].chains == (4, 5, 6, 7)  # best log density first
    assert cl.modes[1].chains == (0, 1, 2, 3)
    assert cl.modes[0].mean_logp == pytest.approx(216.0, abs=0.2)
    assert cl.modes[1].mean_logp == pytest.approx(-75.0, abs=0.2)
    assert [m.chain_share for m in cl.modes] == pytest.approx([0.5, 0.5])
    assert cl.distance(0, 1) == pytest.approx(10.0, abs=0.5)


def test_modes_closer_than_the_threshold_merge(rng):
    x = ar1(rng, (6, 400, 5))
    x[3:, :, 0] += 2.0  # two sds: not separate modes
    assert cluster_modes(x).n_modes == 1


def test_a_chain_that_switches_mid_run_shows_without_a_spurious_mode(rng):
    x = ar1(rng, (4, 1000, 10))
    x[2:, :, 0] += 12.0
    x[0, 530:, 0] += 12.0  # chain 0 jumps to the other mode inside a segment
    cl = cluster_modes(x)
    assert cl.n_modes == 2
    assert cl.switching_chains == (0,)
    assert np.all(cl.labels[0, :520] == cl.labels[1, 0])
    assert np.all(cl.labels[0, 540:] == cl.labels[2, 0])
    assert cl.n_transitional == 1
    share = {m.chains: m.chain_share for m in cl.modes}
    assert share[(0, 1)] == pytest.approx((1 + 0.53) / 4, abs=0.01)


def test_within_scale_ignores_a_minority_of_switching_chains(rng):
    x = ar1(rng, (8, 500, 3))
    x[0, 250:, 0] += 50.0
    assert within_scale(x) == pytest.approx(np.ones(3), rel=0.15)


def test_segment_bounds_cover_the_chain():
    b = segment_bounds(1003, 100)
    assert b[0] == 0 and b[-1] == 1003 and len(b) == 11
    assert segment_bounds(30, 50).tolist() == [0, 30]


def test_symmetric_images_are_recognised_and_collapse_after_canonicalisation(rng):
    c = centre(rng)
    x = draws_around(rng, c, 6, 300)
    g = random_element(TANH3, rng=rng, size=(6, 1))
    x = {k: v for k, v in apply(TANH3, x, g).items() if k in c}
    theta = flatten(x, TANH3, 2)
    raw = cluster_modes(theta)
    assert raw.n_modes >= 3
    pairs = mode_pairs(TANH3, raw, D)
    assert len(pairs) == raw.n_modes * (raw.n_modes - 1) // 2
    assert all(p.symmetric for p in pairs)
    assert all(p.residual < 1.0 < 5.0 < p.distance for p in pairs)
    assert count_orbits(raw.n_modes, pairs) == 1
    canon = canonicalize(TANH3, x, method="align").params
    assert cluster_modes(flatten(canon, TANH3, 2)).n_modes == 1


def test_different_local_modes_are_not_images(rng):
    a = centre(rng)
    b = {k: v.copy() for k, v in a.items()}
    b["W2"] = np.array([1.5, 0.0, 3.0])  # a different function, not a relabelling
    x = {
        k: np.concatenate([draws_around(rng, a, 3, 300)[k], draws_around(rng, b, 3, 300)[k]])
        for k in a
    }
    g = random_element(TANH3, rng=rng, size=(6, 1))
    x = {k: v for k, v in apply(TANH3, x, g).items() if k in a}
    raw = cluster_modes(flatten(x, TANH3, 2))
    pairs = mode_pairs(TANH3, raw, D)
    assert count_orbits(raw.n_modes, pairs) == 2
    assert not all(p.symmetric for p in pairs)
    canon = canonicalize(TANH3, x, method="align").params
    assert cluster_modes(flatten(canon, TANH3, 2)).n_modes == 2


def test_align_to_undoes_a_group_element(rng):
    c = centre(rng)
    g = random_element(TANH3, rng=rng)
    moved = {k: v for k, v in apply(TANH3, c, g).items() if k in c}
    t0, t1 = flatten(c, TANH3), flatten(moved, TANH3)
    assert np.max(np.abs(align_to(TANH3, t0, t1, D) - t0)) < 1e-12


def test_align_to_is_the_identity_for_a_glm(rng):
    glm = Spec(name="glm", family="bernoulli")
    shapes = param_shapes(glm, 3)
    t = rng.normal(size=sum(int(np.prod(s)) for s in shapes.values()))
    assert np.array_equal(align_to(glm, t, t + 1.0, 3), t + 1.0)
    assert weight_names(glm) == ["W1", "b1"]


def test_input_checks():
    with pytest.raises(ValueError, match="chain, draw"):
        cluster_modes(np.zeros((10, 3)))


def test_many_modes_are_classed_greedily(rng):
    c = centre(rng)
    x = draws_around(rng, c, 8, 100)
    g = random_element(TANH3, rng=np.random.default_rng(7), size=(8, 1))
    x = {k: v for k, v in apply(TANH3, x, g).items() if k in c}
    raw = cluster_modes(flatten(x, TANH3, 2))
    full = mode_pairs(TANH3, raw, D)
    greedy = mode_pairs(TANH3, raw, D, max_pairs=0)
    assert len(greedy) == raw.n_modes - 1 < len(full)  # every mode matches the first
    assert count_orbits(raw.n_modes, greedy) == count_orbits(raw.n_modes, full) == 1
