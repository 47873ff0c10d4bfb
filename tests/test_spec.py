"""Specs: the shipped files load, round-trip, and every malformed spec fails with one clear line."""

from pathlib import Path

import pytest

from bayesstack import SpecError, load_spec
from bayesstack.spec import Spec, builtin_specs, models_dir

MODELS = sorted(Path(__file__).parents[1].joinpath("models").glob("*.toml"))
BASE = {"name": "m", "family": "gaussian", "layers": [{"units": 3, "activation": "tanh"}]}


def test_required_specs_are_shipped():
    names = {p.stem for p in MODELS}
    assert {"glm-logistic", "glm-gaussian", "glm-poisson", "deep-linear"} <= names
    assert {"stack1-tanh", "stack2-tanh"} <= names
    assert load_spec(MODELS[0]).name


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_shipped_specs_round_trip(path):
    spec = load_spec(path)
    assert spec.name == path.stem
    assert Spec.from_dict(spec.to_dict()) == spec
    assert Spec.from_json(spec.to_json()) == spec


def test_canonical_link_is_the_default():
    assert Spec.from_dict({"name": "a", "family": "bernoulli"}).link == "logit"
    assert Spec.from_dict({"name": "a", "family": "poisson"}).link == "log"
    assert Spec.from_dict({"name": "a", "family": "gaussian"}).link == "identity"


def test_per_layer_priors_and_bias_switch():
    spec = Spec.from_dict(
        {
            **BASE,
            "layers": [
                {
                    "units": 2,
                    "activation": "relu",
                    "bias": False,
                    "priors": {"weights": {"dist": "laplace", "b": 0.3}},
                },
            ],
            "output": {"priors": {"bias": {"dist": "student_t", "nu": 5, "sigma": 2}}},
            "priors": {"weights": {"dist": "normal_fanin", "sigma": 2.0}},
        }
    )
    assert spec.weight_prior(1).dist == "laplace" and spec.weight_prior(2).dist == "normal_fanin"
    assert not spec.has_bias(1) and spec.has_bias(2)
    assert spec.bias_prior(2)["nu"] == 5.0


def test_hash_ignores_name_only():
    a = Spec.from_dict(BASE)
    assert a.hash == a.with_name("other").hash
    assert a.hash != Spec.from_dict({**BASE, "family": "student_t"}).hash


BAD = [
    ({**BASE, "family": "gamma"}, "family"),
    ({**BASE, "link": "probit"}, "link"),
    ({**BASE, "family": "poisson", "link": "logit"}, "link"),
    ({**BASE, "layers": [{"units": 3, "activation": "swish"}]}, "activation"),
    ({**BASE, "layers": [{"units": 0, "activation": "tanh"}]}, "units"),
    ({**BASE, "layers": [{"units": -2, "activation": "tanh"}]}, "units"),
    ({**BASE, "layers": [{"units": 2.5, "activation": "tanh"}]}, "units"),
    ({**BASE, "priors": {"weights": {"dist": "cauchy"}}}, "priors.weights"),
    ({**BASE, "priors": {"weights": {"dist": "normal", "scale": 1}}}, "priors.weights"),
    ({**BASE, "priors": {"weights": {"dist": "normal", "sigma": -1}}}, "priors.weights.sigma"),
    ({**BASE, "priors": {"noise": {"dist": "normal"}}}, "priors.noise"),
    ({**BASE, "priors": {"slope": {"dist": "normal"}}}, "slope"),
    ({**BASE, "layer": []}, "layer"),
    ({**BASE, "layers": [{"units": 3, "activation": "tanh", "width": 2}]}, "width"),
    ({**BASE, "layers": [{"units": 3}]}, "activation"),
    ({**BASE, "layers": [{"units": 3, "activation": "tanh", "bias": "yes"}]}, "bias"),
    ({"family": "gaussian"}, "name"),
    ({**BASE, "trials": 0}, "trials"),
]

INF = float("inf")


@pytest.mark.parametrize(
    "priors,msg",
    [
        ({"weights": {"dist": "normal", "sigma": INF}}, "priors.weights.sigma"),
        ({"bias": {"dist": "laplace", "b": INF}}, "priors.bias.b"),
        ({"weights": {"dist": "student_t", "nu": INF}}, "priors.weights.nu"),
        ({"noise": {"dist": "fixed", "value": INF}}, "priors.noise.value"),
        ({"nu": {"dist": "gamma", "alpha": 2, "beta": INF}}, "priors.nu.beta"),
        ({"noise": {"dist": "fixed", "value": 10**400}}, "priors.noise.value"),  # beyond float
    ],
)
def test_infinite_prior_parameter(priors, msg):
    with pytest.raises(SpecError, match=rf"^{msg}: must be a finite positive number, got "):
        Spec.from_dict({**BASE, "priors": priors})


def test_large_finite_prior_parameter_is_accepted():
    spec = Spec.from_dict({**BASE, "priors": {"noise": {"dist": "fixed", "value": 1e300}}})
    assert spec.noise["value"] == 1e300


@pytest.mark.parametrize(
    "key,value",
    [("family", 3), ("name", 5), ("description", 5), ("link", 1), ("name", ["m"])],
)
def test_top_level_field_of_wrong_type(key, value):
    with pytest.raises(SpecError) as e:
        Spec.from_dict({**BASE, key: value})
    assert str(e.value) == f"{key}: must be a string, got {value!r}"


def test_non_utf8_spec_file(tmp_path):
    p = tmp_path / "x.toml"
    p.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert str(e.value) == f"spec file {str(p)!r}: not a UTF-8 text file; save it as UTF-8 TOML"


@pytest.mark.parametrize("d,field", BAD)
def test_bad_spec_one_line_error_naming_the_field(d, field):
    with pytest.raises(SpecError) as e:
        Spec.from_dict(d)
    msg = str(e.value)
    assert "\n" not in msg and field in msg


def test_malformed_toml(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "x"\nfamily = gaussian\n')
    with pytest.raises(SpecError, match="malformed TOML"):
        load_spec(p)


def test_missing_spec_file(tmp_path):
    with pytest.raises(SpecError, match="cannot be read"):
        load_spec(tmp_path / "nope.toml")


def test_builtin_specs_load_by_name():
    # bayesstack/models (what the wheel ships) holds exactly the files of models/
    assert builtin_specs() == sorted(p.stem for p in MODELS)
    assert {p.name for p in models_dir().glob("*.toml")} == {p.name for p in MODELS}
    assert load_spec("stack2-tanh") == load_spec(Path("models") / "stack2-tanh.toml")


@pytest.mark.parametrize("path", ["", "models"])
def test_a_folder_is_not_a_spec(path):
    with pytest.raises(SpecError, match=r"is a folder; give a \.toml file or a built-in spec name"):
        load_spec(path)


def test_unknown_builtin_name_lists_the_names():
    with pytest.raises(SpecError, match=r"spec 'stack9': no such file .* glm-gaussian, "):
        load_spec("stack9")


def test_the_sqrt_link_is_refused_with_its_reason():
    # mu = eta^2 is even in eta: theta and -theta fit alike, a mirror the network group lacks
    with pytest.raises(SpecError, match=r"^link: 'sqrt' is not offered \(mu = eta\^2 is not inj"):
        Spec.from_dict({"name": "p", "family": "poisson", "link": "sqrt"})
