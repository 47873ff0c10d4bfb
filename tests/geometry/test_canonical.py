"""Canonicalisation: symmetric modes merge, results are group-invariant and keep the density."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from bayesstack import build_model
from bayesstack.errors import BayesstackError
from bayesstack.geometry.canonical import add_canonical, canonicalize
from bayesstack.geometry.symmetry import apply, random_element
from bayesstack.model.network import flatten, param_dims, param_shapes
from bayesstack.spec import Spec

D = 3


def make_spec(activation, units, **extra):
    layers = [{"units": u, "activation": activation} for u in units]
    return Spec.from_dict({"name": "t", "family": "gaussian", "layers": layers, **extra})


LS = {"family": "gaussian_location_scale"}
LAPLACE = {"priors": {"weights": {"dist": "laplace"}, "bias": {"dist": "laplace"}}}
# (activation, units, extra): identity layers use Laplace priors so that the posterior group is
# the signed permutations (canonicalisation does not quotient O(H))
CASES = [
    ("tanh", [3], {}),
    ("tanh", [4, 3], {}),
    ("identity", [3], LAPLACE),
    ("sigmoid", [3], {}),
    ("relu", [3, 2], {}),
    ("softplus", [3, 2], {}),
    # two outputs (mu, log sigma): the output weight is (H, 2), its rows move, its columns not
    ("tanh", [3], LS),
    ("sigmoid", [3], LS),
    ("relu", [3, 2], LS),
]


def group_kind(activation):
    """Elements that canonicalisation removes: posterior ones, plus relu rescalings."""
    return "likelihood" if activation == "relu" else "posterior"


def draws(spec, rng, lead, noise, scale=1.5):
    star = {k: scale * rng.normal(size=s) for k, s in param_shapes(spec, D).items()}
    return star, {k: v + noise * rng.normal(size=(*lead, *v.shape)) for k, v in star.items()}


def max_rhat(params, spec):
    theta = flatten(params, spec, sample_ndim=2)
    return max(float(az.rhat(theta[..., i])) for i in range(theta.shape[-1]))


def spread(params, spec):
    """Largest deviation of a draw from the mean, relative to 1 + |mean| (relu scales grow)."""
    theta = flatten(params, spec, sample_ndim=2)
    mean = theta.mean(axis=(0, 1))
    return float((np.abs(theta - mean) / (1 + np.abs(mean))).max())


@pytest.mark.parametrize("activation,units,extra", CASES)
def test_symmetric_modes_merge(activation, units, extra):
    spec = make_spec(activation, units, **extra)
    rng = np.random.default_rng(10)
    _, theta = draws(spec, rng, (4, 200), noise=0.03)
    # every chain in its own mode, plus label switching inside chains
    g_chain = random_element(spec, None, rng, kind=group_kind(activation), size=(4, 1))
    g_draw = random_element(spec, None, rng, kind=group_kind(activation), size=(4, 200))
    chainwise = apply(spec, theta, g_chain)
    assert max_rhat(chainwise, spec) > 1.5
    assert canonicalize(spec, chainwise).converged
    assert max_rhat(canonicalize(spec, chainwise).params, spec) < 1.02
    mixed = apply(spec, chainwise, g_draw)
    assert spread(mixed, spec) > 0.4
    res = canonicalize(spec, mixed)
    assert res.converged and res.method == "align"
    assert max_rhat(res.params, spec) < 1.02
    assert spread(res.params, spec) < 0.2  # one point, up to the noise
    # the relabelled draws land on the canonical point of the unpermuted ones
    ref = canonicalize(spec, theta)
    assert spread({k: np.concatenate([res.params[k], ref.params[k]]) for k in theta}, spec) < 0.2


def test_sort_merges_clear_modes():
    spec = make_spec("tanh", [3])
    rng = np.random.default_rng(11)
    _, theta = draws(spec, rng, (4, 100), noise=0.05)
    theta["W2"] = np.array([0.5, 1.5, 3.0]) + 0.05 * rng.normal(size=(4, 100, 3))  # clear keys
    mixed = apply(spec, theta, random_element(spec, None, rng, size=(4, 1)))
    res = canonicalize(spec, mixed, method="sort")
    assert (res.n_iter, res.converged, res.method) == (0, True, "sort")
    assert max_rhat(mixed, spec) > 1.5 and max_rhat(res.params, spec) < 1.02
    assert spread(res.params, spec) < 0.5
    assert np.all(res.params["W2"] > 0) and np.all(np.diff(res.params["W2"], axis=-1) > 0)


@pytest.mark.parametrize("method", ["sort", "align"])
@pytest.mark.parametrize("activation,units,extra", CASES)
def test_canonical_form_is_group_invariant(activation, units, extra, method):
    spec = make_spec(activation, units, **extra)
    rng = np.random.default_rng(12)
    _, theta = draws(spec, rng, (3, 40), noise=0.6)  # broad: sorting alone is not enough
    g = random_element(spec, None, rng, kind=group_kind(activation), size=(3, 40))
    before = {k: v.copy() for k, v in theta.items()}
    a = canonicalize(spec, theta, method=method)
    for k in theta:  # the input is not changed
        np.testing.assert_array_equal(theta[k], before[k])
    b = canonicalize(spec, apply(spec, theta, g), method=method)
    for k in theta:
        np.testing.assert_allclose(b.params[k], a.params[k], rtol=1e-9, atol=1e-9)
    # the returned elements reproduce the output from the input
    for res, src in ((a, theta), (b, apply(spec, theta, g))):
        out = apply(spec, src, res.element)
        for k in theta:
            np.testing.assert_allclose(out[k], res.params[k], rtol=1e-12, atol=1e-12)
        assert res.element.shape == (3, 40)


@pytest.mark.parametrize(
    "activation,units,rescale",
    [("tanh", [3, 2], True), ("sigmoid", [3], True), ("relu", [3, 2], False), ("relu", [3], True)],
)
def test_canonicalisation_keeps_the_log_density(activation, units, rescale):
    spec = make_spec(activation, units)
    rng = np.random.default_rng(13)
    X = rng.normal(size=(20, D))
    model = build_model(spec, X, rng.normal(size=20))
    free, observed = list(model.free_RVs), list(model.observed_RVs)
    terms = model.compile_logp(vars=[*free, *observed], sum=False, mode="FAST_COMPILE")
    _, theta = draws(spec, rng, (2, 5), noise=0.5)
    theta = apply(
        spec, theta, random_element(spec, None, rng, kind=group_kind(activation), size=(2, 5))
    )
    res = canonicalize(spec, theta, rescale=rescale)

    def logps(p, c, d):
        out = terms({**{k: v[c, d] for k, v in p.items()}, "sigma_log__": -0.5})
        return sum(np.sum(t) for t in out[: len(free)]), sum(np.sum(t) for t in out[len(free) :])

    for c in range(2):
        for d in range(5):
            (p0, l0), (p1, l1) = logps(theta, c, d), logps(res.params, c, d)
            np.testing.assert_allclose(l1, l0, rtol=1e-10)
            if activation == "relu" and rescale:  # rescaling is a likelihood-only symmetry
                assert abs(p1 - p0) > 1e-6
            else:
                np.testing.assert_allclose(p1, p0, rtol=1e-10)


def test_ambiguous_signs_do_not_flap():
    spec = make_spec("tanh", [3])
    rng = np.random.default_rng(14)
    _, theta = draws(spec, rng, (4, 150), noise=0.05)
    # unit 2 is switched off: its outgoing weight crosses zero at noise level 1e-9
    theta["W2"][..., 2] = 1e-9 * rng.normal(size=(4, 150))
    g = random_element(spec, None, rng, size=(4, 150))
    mixed = apply(spec, theta, g)
    for method in ("sort", "align"):
        res = canonicalize(spec, mixed, method=method)
        j = int(np.argmin(np.abs(res.params["W2"]).mean(axis=(0, 1))))
        inc = np.concatenate([res.params["W1"][..., j], res.params["b1"][..., j, None]], axis=-1)
        mean = inc.mean(axis=(0, 1))
        assert np.all(inc @ mean > 0.9 * mean @ mean), method  # one orientation for all draws
        assert spread(res.params, spec) < 0.5
        # canonical draws are a fixed point: nothing moves when canonicalised again
        again = canonicalize(spec, res.params, method=method)
        assert again.converged and again.n_iter <= 1
        assert np.all(again.element.perm[0] == np.arange(3)) and np.all(again.element.sign[0] == 1)


def test_uninformative_unit_converges():
    spec = make_spec("tanh", [3])
    rng = np.random.default_rng(15)
    _, theta = draws(spec, rng, (4, 150), noise=0.05)
    theta["W2"][..., 2] = 0.0  # unit 2 is switched off and its incoming weights are prior noise
    theta["W1"][..., 2] = rng.normal(size=(4, 150, D))
    theta["b1"][..., 2] = rng.normal(size=(4, 150))
    mixed = apply(spec, theta, random_element(spec, None, rng, size=(4, 150)))
    res = canonicalize(spec, mixed, max_iter=50)
    assert res.converged and res.n_iter < 50
    live = [j for j in range(3) if np.abs(res.params["W2"][..., j]).max() > 0]
    for k in ("W1", "b1", "W2"):
        v = res.params[k][..., live]
        assert np.abs(v - v.mean(axis=(0, 1))).max() < 0.4, k
    # the switched-off unit's orientation is arbitrary, but fixed: canonical draws are canonical
    again = canonicalize(spec, res.params)
    for k in theta:
        np.testing.assert_allclose(again.params[k], res.params[k], rtol=1e-12, atol=1e-12)


def test_reference_and_logp_pivot():
    spec = make_spec("tanh", [4, 3])
    rng = np.random.default_rng(16)
    star, theta = draws(spec, rng, (2, 100), noise=0.05)
    mixed = apply(spec, theta, random_element(spec, None, rng, size=(2, 100)))
    by_ref = canonicalize(spec, mixed, reference=star)  # aligned to star's own labelling
    for k in star:
        np.testing.assert_allclose(by_ref.params[k].mean(axis=(0, 1)), star[k], atol=0.05)
    logp = -np.square(flatten(theta, spec, 2) - flatten(star, spec, 0)).sum(-1)
    by_logp = canonicalize(spec, mixed, logp=logp)
    assert by_logp.converged and spread(by_logp.params, spec) < 0.2
    # relu: the reference is normalised like the draws, and keeps its labelling
    spec = make_spec("relu", [3])
    star, theta = draws(spec, rng, (2, 100), noise=0.03)
    g = random_element(spec, None, rng, kind="likelihood", size=(2, 100))
    res = canonicalize(spec, apply(spec, theta, g), reference=star)
    inc = np.concatenate([res.params["W1"], res.params["b1"][..., None, :]], axis=-2)
    np.testing.assert_allclose(np.linalg.norm(inc, axis=-2), 1.0)
    star_inc = np.concatenate([star["W1"], star["b1"][None]], axis=0)
    cos = np.sum(inc.mean(axis=(0, 1)) * star_inc, axis=0) / np.linalg.norm(star_inc, axis=0)
    assert np.all(cos > 0.99)


def test_glm_and_bad_method():
    spec = Spec.from_dict({"name": "glm", "family": "gaussian"})
    theta = {"W1": np.ones((2, 3, D)), "b1": np.zeros((2, 3)), "sigma": np.ones((2, 3))}
    res = canonicalize(spec, theta)
    assert res.n_iter == 0 and res.converged and res.element.depth == 0
    np.testing.assert_array_equal(res.params["W1"], theta["W1"])
    assert res.params["sigma"] is theta["sigma"]
    with pytest.raises(BayesstackError, match="unknown method 'median'"):
        canonicalize(spec, theta, method="median")


def fake_run(spec, theta, rng):
    dims = param_dims(spec)
    coords = {
        "chain": np.arange(4),
        "draw": np.arange(theta["W1"].shape[1]),
        "feature": ["a", "b", "c"],
    } | {f"hidden{i + 1}": np.arange(lay.units) for i, lay in enumerate(spec.layers)}
    post = xr.Dataset(
        {k: (("chain", "draw", *dims[k]), v) for k, v in theta.items()}
        | {"sigma": (("chain", "draw"), np.exp(0.1 * rng.normal(size=theta["b2"].shape)))},
        coords=coords,
        attrs={"inference_library": "test"},
    )
    post["W1"] = post["W1"].transpose("chain", "draw", "hidden1", "feature")  # dims in any order
    stats = xr.Dataset({"lp": (("chain", "draw"), rng.normal(size=theta["b2"].shape))})
    run = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    run.attrs["bayesstack_spec"] = spec.to_json()
    return run


def test_add_canonical():
    spec = make_spec("tanh", [3])
    rng = np.random.default_rng(17)
    _, theta = draws(spec, rng, (4, 200), noise=0.05)
    mixed = apply(spec, theta, random_element(spec, None, rng, size=(4, 1)))
    run = fake_run(spec, mixed, rng)
    out = add_canonical(run)
    assert "canonical_posterior" not in run.children  # the input is not changed
    can, post = out["canonical_posterior"], out["posterior"]
    assert can.attrs["canonical_method"] == "align" and can.attrs["canonical_converged"] == 1
    assert can.attrs["inference_library"] == "test"
    assert set(can.data_vars) == set(post.data_vars)
    for k in post.data_vars:
        assert can[k].dims == post[k].dims
        for d in can[k].dims:
            np.testing.assert_array_equal(can[k][d].values, post[k][d].values)
    np.testing.assert_array_equal(can["sigma"].values, post["sigma"].values)
    r_post = az.rhat(out)
    r_can = az.rhat(out, group="canonical_posterior")
    assert float(r_post["W2"].max()) > 1.5
    assert all(float(r_can[k].max()) < 1.02 for k in ("W1", "b1", "W2", "b2", "sigma"))
    sorted_run = add_canonical(run, method="sort")
    assert sorted_run["canonical_posterior"].attrs["canonical_method"] == "sort"


def test_add_canonical_needs_a_bayesstack_run():
    run = xr.DataTree.from_dict(
        {"posterior": xr.Dataset({"x": (("chain", "draw"), np.ones((1, 2)))})}
    )
    with pytest.raises(BayesstackError, match="bayesstack_spec"):
        add_canonical(run)
    run.attrs["bayesstack_spec"] = make_spec("tanh", [2]).to_json()
    with pytest.raises(BayesstackError, match="lacks the weights W1"):
        add_canonical(run)


def test_result_to_dict():
    spec = make_spec("tanh", [3, 2])
    rng = np.random.default_rng(18)
    _, theta = draws(spec, rng, (2, 10), noise=0.05)
    d = canonicalize(spec, theta).to_dict()
    assert d["method"] == "align" and d["sample_shape"] == [2, 10]
    assert len(d["fraction_relabelled"]) == 2 and len(d["fraction_sign_flipped"]) == 2
    # the fractions are the element's own: recount them from the per-draw signs
    res = canonicalize(spec, theta)
    for l, s in enumerate(res.element.sign):
        assert d["fraction_sign_flipped"][l] == pytest.approx(np.mean(s < 0))


def test_sort_breaks_ties_by_the_whole_unit_vector():
    """Two units with the same sort key (outgoing weight) but different incoming weights come
    out in the same order whichever order they went in."""
    from bayesstack.spec import Layer, Spec

    spec = Spec(name="t", family="gaussian", layers=(Layer(3, "tanh"),))
    base = {
        "W1": np.array([[0.5, -0.3, 0.9], [0.2, 0.4, 0.1]]),
        "b1": np.array([0.1, 0.2, 0.3]),
        "W2": np.array([1.0, 1.0, 2.0]),  # units 0 and 1 tie on the sort key
        "b2": np.array(0.0),
    }
    swapped = {
        "W1": base["W1"][:, [1, 0, 2]],
        "b1": base["b1"][[1, 0, 2]],
        "W2": base["W2"][[1, 0, 2]],
        "b2": base["b2"],
    }
    a = canonicalize(spec, {k: v[None] for k, v in base.items()}, method="sort").params
    b = canonicalize(spec, {k: v[None] for k, v in swapped.items()}, method="sort").params
    for k in base:
        np.testing.assert_array_equal(a[k], b[k])
