"""The symmetry group: exact orders, and its action checked against the built PyMC model."""

import json
import math
from functools import cache

import numpy as np
import pytest

from bayesstack import build_model
from bayesstack.geometry.symmetry import (
    GroupElement,
    apply,
    check_element,
    compose,
    coupon_collector,
    identity_element,
    inverse,
    random_element,
    symmetry_group,
)
from bayesstack.model.network import forward, param_shapes, weight_names
from bayesstack.spec import Spec

ACTIVATIONS = ["identity", "tanh", "sigmoid", "relu", "softplus"]
N, D, DRAWS = 25, 3, 4
RTOL = 1e-10


def make_spec(activation, units, family="gaussian", **extra):
    layers = [{"units": u, "activation": activation} for u in units]
    return Spec.from_dict({"name": "t", "family": family, "layers": layers, **extra})


def units_of(depth):
    return [3, 2][:depth]


@cache
def density(activation, depth, family):
    """Spec, X and a function: weights -> (log prior, log likelihood) of the built model."""
    spec = make_spec(activation, units_of(depth), family)
    rng = np.random.default_rng([ACTIVATIONS.index(activation), depth, family == "gaussian"])
    X = rng.normal(size=(N, D))
    y = rng.normal(size=N) if family != "bernoulli" else rng.integers(0, 2, N).astype(float)
    model = build_model(spec, X, y)
    free, observed = list(model.free_RVs), list(model.observed_RVs)
    terms = model.compile_logp(vars=[*free, *observed], sum=False, mode="FAST_COMPILE")
    nuisance = {  # fixed values of the other value variables (sigma_log__, ...)
        v.name: 0.3 * np.ones(model.initial_point()[v.name].shape)
        for v in model.value_vars
        if v.name not in weight_names(spec)
    }

    def logps(params):
        out = terms({**nuisance, **params})
        prior = sum(float(np.sum(t)) for t in out[: len(free)])
        return prior, sum(float(np.sum(t)) for t in out[len(free) :])

    return spec, X, logps


def random_params(spec, rng, lead=(DRAWS,)):
    return {k: rng.normal(size=(*lead, *s)) for k, s in param_shapes(spec, D).items()}


def per_draw(logps, params):
    """(prior, loglik) arrays over the first sample dim."""
    vals = [logps({k: v[i] for k, v in params.items()}) for i in range(DRAWS)]
    return np.array(vals).T


def moved(a, b):
    return any(not np.allclose(a[k], b[k]) for k in a)


# --- the group's orders ------------------------------------------------------------------------
def test_known_orders():
    assert symmetry_group(make_spec("tanh", [3])).posterior_order == 48
    assert symmetry_group(make_spec("tanh", [3, 2])).posterior_order == 6 * 8 * 2 * 4 == 384
    relu = symmetry_group(make_spec("relu", [4]))
    assert (relu.posterior_order, relu.likelihood_order_discrete) == (24, 24)
    assert relu.continuous_symmetries == ("R+^4 rescaling on hidden1 (likelihood only)",)
    soft = symmetry_group(make_spec("softplus", [3, 2]))
    assert (soft.posterior_order, soft.likelihood_order_discrete) == (12, 12)
    assert soft.continuous_symmetries == ()


def test_identity_layer_orthogonal_part_needs_isotropic_priors():
    laplace = symmetry_group(make_spec("identity", [3], priors={"weights": {"dist": "laplace"}}))
    assert laplace.posterior_order == 48  # signed permutations only
    assert laplace.continuous_symmetries == ("GL(3) on hidden1 (likelihood only)",)
    assert laplace.layers[0].orthogonal == "likelihood"
    normal = symmetry_group(make_spec("identity", [3]))
    assert normal.posterior_order == 48
    assert "O(3) on hidden1 (posterior)" in normal.continuous_symmetries
    assert "GL(3) on hidden1 (likelihood only)" in normal.continuous_symmetries
    for dist in ("normal_fanin", "hierarchical"):
        g = symmetry_group(make_spec("identity", [3], priors={"weights": {"dist": dist}}))
        assert g.layers[0].orthogonal == "posterior"
    # each of W1, b1, W2 is checked: a Laplace prior on the output weights alone breaks O(3)
    out_laplace = make_spec("identity", [3], output={"priors": {"weights": {"dist": "laplace"}}})
    g = symmetry_group(out_laplace)
    assert g.layers[0].orthogonal == "likelihood" and "W2 (laplace)" in g.layers[0].notes[0]
    b_laplace = make_spec("identity", [3], priors={"bias": {"dist": "student_t"}})
    assert symmetry_group(b_laplace).layers[0].orthogonal == "likelihood"
    no_bias = Spec.from_dict(
        {
            "name": "t",
            "family": "gaussian",
            "layers": [{"units": 3, "activation": "identity", "bias": False}],
            "priors": {"bias": {"dist": "laplace"}},
        }
    )
    assert symmetry_group(no_bias).layers[0].orthogonal == "posterior"  # b1 is absent


def test_sigmoid_reflections_are_likelihood_only_and_need_the_next_bias():
    g = symmetry_group(make_spec("sigmoid", [3]))
    assert (g.posterior_order, g.likelihood_order_discrete) == (6, 48)
    g = symmetry_group(make_spec("sigmoid", [3], output={"bias": False}))
    assert (g.posterior_order, g.likelihood_order_discrete) == (6, 6)
    assert g.layers[0].reflections == "none" and "no bias in layer 2" in g.layers[0].notes[0]
    two = Spec.from_dict(
        {
            "name": "t",
            "family": "gaussian",
            "layers": [
                {"units": 3, "activation": "sigmoid"},
                {"units": 2, "activation": "sigmoid", "bias": False},
            ],
        }
    )
    g = symmetry_group(two)
    assert [x.reflections for x in g.layers] == ["none", "likelihood"]
    assert g.likelihood_order_discrete == 6 * 2 * 4


def test_glm_has_the_trivial_group():
    g = symmetry_group(Spec.from_dict({"name": "glm", "family": "bernoulli"}))
    assert (g.posterior_order, g.likelihood_order_discrete) == (1, 1)
    assert g.layers == () and g.continuous_symmetries == () and g.is_trivial
    assert g.expected_chains_to_see_all() == 1.0


def test_coupon_collector():
    assert round(coupon_collector(48), 1) == 214.0  # 48 H_48 = 213.98...
    assert coupon_collector(48) == pytest.approx(48 * sum(1 / k for k in range(1, 49)), rel=1e-14)
    assert symmetry_group(make_spec("tanh", [3])).expected_chains_to_see_all() == coupon_collector(
        48
    )
    assert symmetry_group(make_spec("tanh", [3])).expected_chains_to_see_all(6) == pytest.approx(
        14.7
    )
    n = 10**6  # asymptotic branch agrees with the exact sum
    exact = n * math.fsum(1 / k for k in range(1, n + 1))
    assert coupon_collector(n) == pytest.approx(exact, rel=1e-12)
    assert coupon_collector(math.factorial(200)) == math.inf
    with pytest.raises(ValueError):
        coupon_collector(0)


def test_to_dict_is_json():
    g = symmetry_group(make_spec("identity", [3, 2]))
    d = json.loads(json.dumps(g.to_dict()))
    assert d["posterior_order"] == 48 * 8 and len(d["layers"]) == 2
    assert d["layers"][0]["orthogonal"] == "posterior"


# --- the action against the model ----------------------------------------------------------------
# gaussian_location_scale: the output weight is (H, 2) (mu and log sigma columns)
FAMILIES = ["gaussian", "bernoulli", "gaussian_location_scale"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_posterior_elements_keep_the_joint_density(activation, depth, family):
    spec, X, logps = density(activation, depth, family)
    rng = np.random.default_rng(1)
    params = random_params(spec, rng)
    g = random_element(spec, None, rng, kind="posterior", size=DRAWS)  # one per draw
    new = apply(spec, params, g)
    assert moved(params, new)
    before, after = per_draw(logps, params), per_draw(logps, new)
    np.testing.assert_allclose(after.sum(0), before.sum(0), rtol=RTOL)
    np.testing.assert_allclose(after, before, rtol=RTOL)  # prior and likelihood each
    np.testing.assert_allclose(
        forward(spec, new, X), forward(spec, params, X), rtol=RTOL, atol=1e-12
    )


LIKELIHOOD_ONLY = ["sigmoid", "relu", "identity"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("activation", LIKELIHOOD_ONLY)
def test_likelihood_elements_keep_the_likelihood_not_the_prior(activation, depth, family):
    spec, X, logps = density(activation, depth, family)
    rng = np.random.default_rng(2)
    params = random_params(spec, rng)
    g = random_element(spec, None, rng, kind="likelihood", size=DRAWS)
    if activation == "sigmoid":  # at least one reflection per draw
        g.sign[0][:, 0] = -1.0
    new = apply(spec, params, g)
    (prior0, lik0), (prior1, lik1) = per_draw(logps, params), per_draw(logps, new)
    np.testing.assert_allclose(lik1, lik0, rtol=RTOL)
    np.testing.assert_allclose(
        forward(spec, new, X), forward(spec, params, X), rtol=1e-9, atol=1e-9
    )
    assert np.all(np.abs(prior1 - prior0) > 1e-6)


def test_orthogonal_matrices_keep_normal_priors_but_not_laplace():
    rng = np.random.default_rng(3)
    for dist, keeps in (("normal", True), ("laplace", False)):
        spec = make_spec(
            "identity", [3], priors={"weights": {"dist": dist}, "bias": {"dist": dist}}
        )
        X = rng.normal(size=(N, D))
        model = build_model(spec, X, rng.normal(size=N))
        prior = model.compile_logp(vars=model.free_RVs, mode="FAST_COMPILE")
        params = random_params(spec, rng, lead=())
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        g = GroupElement((np.arange(3),), (np.ones(3),), (np.ones(3),), (q,))
        new = apply(spec, params, g)
        p0, p1 = prior({**params, "sigma_log__": 0.0}), prior({**new, "sigma_log__": 0.0})
        assert np.isclose(p0, p1, rtol=RTOL) == keeps
        np.testing.assert_allclose(forward(spec, new, X), forward(spec, params, X), rtol=1e-9)


def _flip_unit0(spec):
    g = identity_element(spec)
    g.sign[0][0] = -1.0
    return g


def test_non_symmetries_change_the_likelihood():
    rng = np.random.default_rng(4)
    cases = {}
    # a softplus unit's sign flip
    spec, _, logps = density("softplus", 1, "gaussian")
    params = random_params(spec, rng, lead=())
    g = _flip_unit0(spec)
    with pytest.raises(ValueError, match="sign flips are not a symmetry"):
        apply(spec, params, g)
    cases["softplus flip"] = (logps, params, apply(spec, params, g, strict=False))
    # a sigmoid reflection without the bias shift
    spec, _, logps = density("sigmoid", 1, "gaussian")
    params = random_params(spec, rng, lead=())
    wrong = {**params, "W1": params["W1"] * [-1, 1, 1], "b1": params["b1"] * [-1, 1, 1]}
    wrong["W2"] = params["W2"] * [-1, 1, 1]
    cases["sigmoid flip"] = (logps, params, wrong)
    # permuting W1's columns without W2's rows
    spec, _, logps = density("tanh", 2, "bernoulli")
    params = random_params(spec, rng, lead=())
    perm = np.array([2, 0, 1])
    cases["columns only"] = (
        logps,
        params,
        {**params, "W1": params["W1"][:, perm], "b1": params["b1"][perm]},
    )
    # rescaling a tanh unit
    g = identity_element(spec)
    g.scale[0][1] = 2.0
    with pytest.raises(ValueError, match="rescaling is not a symmetry"):
        apply(spec, params, g)
    cases["tanh rescale"] = (logps, params, apply(spec, params, g, strict=False))
    for name, (logps, a, b) in cases.items():
        assert not np.isclose(logps(a)[1], logps(b)[1], rtol=1e-6), name


def test_check_element_rejects_what_is_not_in_the_group():
    spec = make_spec("sigmoid", [3], output={"bias": False})
    g = _flip_unit0(spec)
    with pytest.raises(ValueError, match="reflections need a bias"):
        check_element(spec, g)
    relu = make_spec("relu", [3])
    with pytest.raises(ValueError, match="sign flips"):
        check_element(relu, _flip_unit0(relu))
    tanh = make_spec("tanh", [3])
    bad = identity_element(tanh)
    with pytest.raises(ValueError, match="not a permutation"):
        check_element(tanh, GroupElement((np.array([0, 0, 1]),), bad.sign, bad.scale, bad.matrix))
    with pytest.raises(ValueError, match="identity layers only"):
        check_element(tanh, GroupElement(bad.perm, bad.sign, bad.scale, (np.eye(3),)))
    with pytest.raises(ValueError, match="hidden layers"):
        check_element(make_spec("tanh", [3, 2]), bad)


# --- the algebra, numpy only ---------------------------------------------------------------------
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_compose_and_inverse(activation):
    spec = make_spec(activation, [4, 3])
    rng = np.random.default_rng(5)
    params = random_params(spec, rng, lead=(2, 3))
    g1 = random_element(spec, None, rng, kind="likelihood", size=(2, 3))
    g2 = random_element(spec, None, rng, kind="likelihood", size=(3,))  # broadcasts
    both = apply(spec, params, compose(g2, g1))
    step = apply(spec, apply(spec, params, g1), g2)
    for k in params:
        np.testing.assert_allclose(both[k], step[k], rtol=1e-10, atol=1e-12)
    back = apply(spec, apply(spec, params, g1), inverse(g1))
    for k in params:
        np.testing.assert_allclose(back[k], params[k], rtol=1e-10, atol=1e-12)
    assert moved(params, apply(spec, params, g1))


def test_apply_is_vectorised_and_broadcasts():
    spec = make_spec("sigmoid", [4, 3])
    rng = np.random.default_rng(6)
    params = random_params(spec, rng, lead=(2, 3))
    g = random_element(spec, None, rng, kind="likelihood", size=(2, 3))
    out = apply(spec, params, g)
    for c in range(2):
        for d in range(3):
            one = GroupElement(
                tuple(p[c, d] for p in g.perm),
                tuple(s[c, d] for s in g.sign),
                tuple(x[c, d] for x in g.scale),
                (None, None),
            )
            ref = apply(spec, {k: v[c, d] for k, v in params.items()}, one)
            for k in params:
                np.testing.assert_array_equal(out[k][c, d], ref[k])
    # one element for all draws, and many elements for one point
    single = random_element(spec, None, rng)
    assert apply(spec, params, single)["W1"].shape == (2, 3, D, 4)
    point = {k: v[0, 0] for k, v in params.items()}
    many = apply(spec, point, g)
    assert all(many[k].shape[:2] == (2, 3) for k in params)


def test_identity_and_random_elements():
    spec = make_spec("identity", [3, 2])
    rng = np.random.default_rng(7)
    params = random_params(spec, rng)
    same = apply(spec, params, identity_element(spec))
    assert not moved(params, same)
    g = random_element(spec, None, rng, size=(5, 2))
    assert g.shape == (5, 2) and g.perm[1].shape == (5, 2, 2) and g.matrix[0].shape == (5, 2, 3, 3)
    np.testing.assert_allclose(
        g.matrix[0] @ np.swapaxes(g.matrix[0], -1, -2),
        np.broadcast_to(np.eye(3), (5, 2, 3, 3)),
        atol=1e-12,
    )
    check_element(spec, random_element(spec, None, rng, kind="likelihood", size=4))
    with pytest.raises(ValueError):
        random_element(spec, None, rng, kind="prior")
    sig = random_element(make_spec("sigmoid", [3]), None, rng, size=50)
    assert np.all(sig.sign[0] == 1)  # reflections are not posterior symmetries
    ident = json.loads(json.dumps(identity_element(spec).to_dict()))
    assert ident["perm"] == [[0, 1, 2], [0, 1]] and ident["sign"] == [[1.0] * 3, [1.0] * 2]
    assert ident["matrix"] == [None, None]


def test_continuous_symmetries_are_typed_records_and_the_group_is_named():
    """Signed permutations of an identity layer lie inside O(H): the deep linear stack's
    group is O(3) x O(3), not 2,304 x O(3) x O(3)."""
    from bayesstack.spec import load_spec

    deep = symmetry_group(load_spec("deep-linear"))
    post = deep.posterior_continuous
    assert [(c.layer, c.kind, c.units, c.scope) for c in post] == [
        (1, "O", 3, "posterior"),
        (2, "O", 3, "posterior"),
    ]
    assert [c.dimension for c in post] == [3, 3] and deep.orbit_dimension == 6
    assert deep.discrete_order == 1 and deep.posterior_name == "O(3) × O(3)"
    assert str(post[0]) == "O(3) on hidden1 (posterior)"
    tanh = symmetry_group(load_spec("stack1-tanh"))
    assert tanh.posterior_name == "48" and tanh.orbit_dimension == 0
    assert symmetry_group(load_spec("glm-gaussian")).posterior_name == "trivial"


# --- a family with two outputs (mu, log sigma) -------------------------------------------------
@pytest.mark.parametrize("units", [[3], [3, 2]])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_location_scale_has_the_one_output_group(activation, units):
    one = symmetry_group(make_spec(activation, units))
    two = symmetry_group(make_spec(activation, units, family="gaussian_location_scale"))
    assert two.posterior_order == one.posterior_order
    assert two.likelihood_order_discrete == one.likelihood_order_discrete
    assert two.continuous_symmetries == one.continuous_symmetries


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_location_scale_elements_act_on_rows_of_both_output_columns(activation):
    """Each output column moves exactly as a one-output stack's output weight would."""
    ls = make_spec(activation, [4, 3], family="gaussian_location_scale")
    one = make_spec(activation, [4, 3])
    rng = np.random.default_rng(7)
    params = random_params(ls, rng, lead=(2, 3))
    assert params["W3"].shape == (2, 3, 3, 2) and params["b3"].shape == (2, 3, 2)
    g = random_element(ls, None, rng, kind="likelihood", size=(2, 3))
    if activation == "sigmoid":
        g.sign[1][..., 0] = -1.0  # a reflection next to the output: both biases shift
    new = apply(ls, params, g)
    for k in range(2):
        col = {**params, "W3": params["W3"][..., k], "b3": params["b3"][..., k]}
        ref = apply(one, col, g)
        np.testing.assert_allclose(new["W3"][..., k], ref["W3"], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(new["b3"][..., k], ref["b3"], rtol=1e-10, atol=1e-12)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(new[name], apply(one, col, g)[name], rtol=1e-12)
    back = apply(ls, new, inverse(g))
    for name in params:
        np.testing.assert_allclose(back[name], params[name], rtol=1e-9, atol=1e-10)


def test_location_scale_swapping_the_outputs_is_not_a_symmetry():
    spec, X, logps = density("tanh", 1, "gaussian_location_scale")
    params = random_params(spec, np.random.default_rng(8), lead=())
    swapped = {**params, "W2": params["W2"][:, ::-1], "b2": params["b2"][::-1]}
    assert not np.isclose(logps(params)[1], logps(swapped)[1], rtol=1e-6)
    assert forward(spec, params, X).shape == (N, 2)
