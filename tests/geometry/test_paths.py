"""The report's pair of symmetric modes: chosen by the geometry module's image rule."""

import numpy as np
import pytest

from bayesstack.geometry.paths import log_density, mode_pair
from bayesstack.geometry.symmetry import apply, random_element
from bayesstack.model.network import forward
from bayesstack.spec import Layer, Spec
from bayesstack.testing import run_from_draws

TANH3 = Spec(name="tanh3", family="gaussian", layers=(Layer(3, "tanh"),))
CENTRE = {
    "W1": np.array([[2.0, -1.0, 0.5], [0.5, 1.5, -2.0]]),
    "b1": np.array([0.3, -0.6, 1.0]),
    "W2": np.array([1.5, -2.0, 1.0]),
    "b2": np.array(0.4),
}
# not an image of CENTRE: other unit weights altogether
OTHER = {k: v + np.array(0.7) * np.sign(v + 0.1) for k, v in CENTRE.items()}


def _run(centres, seed=0):
    """Four chains of 200 draws, chain c scattered (sd 0.02) around ``centres[c]``."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(50, 2))
    y = forward(TANH3, CENTRE, X) + 0.3 * rng.normal(size=50)
    draws = {
        k: np.stack([c[k] + 0.02 * rng.normal(size=(200, *np.shape(c[k]))) for c in centres])
        for k in CENTRE
    }
    draws["sigma"] = 0.3 * np.exp(0.02 * rng.normal(size=(len(centres), 200)))
    logp = rng.normal(size=(len(centres), 200))
    return run_from_draws(TANH3, X, y, draws, logp=logp, log_likelihood=False)


def _image(rng):
    """CENTRE moved by a posterior group element that moves it far."""
    while True:
        g = random_element(TANH3, rng=rng)
        moved = {k: v for k, v in apply(TANH3, CENTRE, g).items() if k in CENTRE}
        if max(np.max(np.abs(moved[k] - CENTRE[k])) for k in CENTRE) > 1.0:
            return moved


def test_pair_is_two_chains_in_images_of_one_mode():
    rng = np.random.default_rng(1)
    run = _run([CENTRE, OTHER, _image(rng), OTHER])
    pair = mode_pair(run, log_density(run))
    assert pair.chains == (0, 2)  # chains 1 and 3 share a mode; OTHER is no image of CENTRE
    assert pair.label == "A, B: best draws of chains 0 and 2"


def test_without_images_b_is_a_group_image_of_the_best_draw():
    run = _run([CENTRE, CENTRE, OTHER, OTHER])
    ld = log_density(run)
    pair = mode_pair(run, ld)
    top = int(np.argmax(ld.logp.max(axis=1)))
    assert pair.chains == (top,)
    assert pair.label.startswith(f"A: best draw (chain {top}); B: its image")
    assert ld(pair.b) == pytest.approx(ld(pair.a), abs=1e-8)  # a symmetry keeps the density
