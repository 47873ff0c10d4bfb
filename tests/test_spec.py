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


# --- issue 18: the validator never crashes, and its messages are short single lines ---------


@pytest.mark.parametrize("d", [[], None, 3, "name", 2.5, ("name", "m")])
def test_a_spec_that_is_not_a_table(d):
    with pytest.raises(SpecError) as e:
        Spec.from_dict(d)
    assert str(e.value).startswith("spec: expected a table (dict) of spec fields, got ")
    assert type(d).__name__ in str(e.value)


def test_a_string_spec_is_not_read_as_fields():
    with pytest.raises(SpecError) as e:
        Spec.from_dict("name")
    assert str(e.value) == "spec: expected a table (dict) of spec fields, got str 'name'"


@pytest.mark.parametrize(
    "d,msg",
    [
        (
            {**BASE, "layers": [{"units": 3, "activation": ["tanh"]}]},
            "layers[1].activation: unknown activation ['tanh']; "
            "use one of identity, relu, sigmoid, softplus, tanh",
        ),
        (
            {**BASE, "priors": {"weights": {"dist": {"a": 1}}}},
            "priors.weights: unknown prior {'a': 1}; "
            "use one of hierarchical, laplace, normal, normal_fanin, student_t",
        ),
        ({**BASE, "family": ["gaussian"]}, "family: must be a string, got ['gaussian']"),
        ({**BASE, 3: 1}, "spec: field names must be strings, got 3"),
        (
            {**BASE, "priors": {"bias": {"dist": "normal", (1, 2): 2}}},
            "priors.bias: field names must be strings, got (1, 2)",
        ),
        ({**BASE, "output": [1]}, "spec: output: expected a table, got [1]"),
        ({**BASE, "trials": ""}, "trials: must be a positive integer or a column name, got ''"),
        (
            {**BASE, "trials": 2**53 + 1},
            "trials: at most 9007199254740992 (2**53), got 9007199254740993",
        ),
        (
            {**BASE, "name": "a\nb"},
            r"name: must be one line of text without control characters, got 'a\nb'",
        ),
    ],
)
def test_unhashable_and_wrongly_typed_values(d, msg):
    with pytest.raises(SpecError) as e:
        Spec.from_dict(d)
    assert str(e.value) == msg


HUGE = 10**5000  # repr() refuses integers over 4300 digits


@pytest.mark.parametrize(
    "d,msg",
    [
        (
            {**BASE, "layers": [{"units": HUGE, "activation": "tanh"}]},
            "layers[1].units: <integer of about 5001 digits> units is more than any machine",
        ),
        (
            {**BASE, "priors": {"weights": {"dist": "normal", "sigma": HUGE}}},
            "priors.weights.sigma: must be a finite positive number, got <integer of about 5001",
        ),
        (
            {**BASE, "trials": -HUGE},
            "trials: must be a positive integer or a column name, got <-int",
        ),
        (
            {**BASE, "name": "x" * 10_000},
            "name: 10000 characters is too long (at most 200), got 'xx",
        ),
        ({**BASE, "link": "x" * 10_000}, "link: 'xxx"),
        ({**BASE, "x" * 10_000: 1}, "spec: unknown field 'xxx"),
        (
            {**BASE, "priors": {"noise": [[[[1] * 1000] * 1000]]}},
            "priors.noise: expected a table like",
        ),
    ],
)
def test_messages_quote_a_short_repr(d, msg):
    with pytest.raises(SpecError) as e:
        Spec.from_dict(d)
    assert str(e.value).startswith(msg)
    assert len(str(e.value)) < 300 and "\n" not in str(e.value)


def test_short_repr_never_raises_and_is_short():
    from bayesstack.errors import short_repr

    class Broken:
        def __repr__(self):
            raise RuntimeError("no")

    deep: dict = {}
    node = deep
    for _ in range(100_000):
        node["a"] = node = {}
    for v in (HUGE, -HUGE, "x" * 10**6, [1] * 10**5, deep, Broken(), "a\nb", float("nan")):
        s = short_repr(v)
        assert len(s) <= 60 and "\n" not in s
    assert short_repr("x" * 100).endswith("…")
    assert short_repr(3) == "3" and short_repr("abc") == "'abc'"
    assert short_repr(10**100) == "<integer of 101 digits>"


@pytest.mark.parametrize(
    "field,value,fixed",
    [
        ("nu", 3, '{ dist = "fixed", value = 3.0 }'),
        ("noise", 0.5, '{ dist = "fixed", value = 0.5 }'),
        ("dispersion", "x", None),
        ("weights", 3, None),
        ("bias", {"sigma": 1}, None),
    ],
)
def test_the_suggested_prior_is_valid_for_its_field(field, value, fixed):
    import re
    import tomllib

    with pytest.raises(SpecError) as e:
        Spec.from_dict({**BASE, "family": "student_t", "priors": {field: value}})
    msg = str(e.value)
    assert msg.startswith(f"priors.{field}: expected a table like {{ dist = ")
    examples = re.findall(r"\{ dist = [^}]*\}", msg)
    assert examples and (fixed is None or fixed in examples)
    for example in examples:  # each one a spec accepts for that very field
        table = tomllib.loads(f"x = {example}")["x"]
        spec = Spec.from_dict({**BASE, "family": "student_t", "priors": {field: table}})
        assert getattr(spec, field).dist == table["dist"]


def test_nu_as_a_bare_number_points_to_a_positive_prior():
    # was: 'expected a table like { dist = "normal", ... }', which nu then refuses
    with pytest.raises(SpecError) as e:
        Spec.from_dict({**BASE, "family": "student_t", "priors": {"nu": 3}})
    assert str(e.value) == (
        'priors.nu: expected a table like { dist = "gamma", alpha = 2.0, beta = 0.1 }, '
        'or { dist = "fixed", value = 3.0 } to fix it; got 3'
    )


def test_a_utf8_bom_is_accepted(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes("\ufeff".encode() + Path(MODELS[0]).read_bytes())
    assert load_spec(p) == load_spec(MODELS[0])


def test_an_integer_over_4300_digits_in_toml(tmp_path):
    p = tmp_path / "huge.toml"
    p.write_text(f'name = "m"\nfamily = "gaussian"\ntrials = {"9" * 5000}\n')
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert str(e.value) == (
        f"spec file {str(p)!r}: an integer has more than 4300 digits; no spec field takes one"
    )


def test_toml_nested_too_deeply():
    from bayesstack.spec import loads_spec

    with pytest.raises(SpecError, match=r"^spec: arrays or tables nested too deeply for a spec$"):
        loads_spec("x = " + "[" * 50_000 + "]" * 50_000)


def test_a_spec_file_is_read_up_to_a_bound(tmp_path):
    from bayesstack.spec import MAX_SPEC_BYTES

    p = tmp_path / "big.toml"
    p.write_text("# " + "x" * MAX_SPEC_BYTES + "\n")
    with pytest.raises(SpecError, match=r"larger than 1048576 bytes; a spec is a short TOML file"):
        load_spec(p)


@pytest.mark.parametrize("path", [3, None, "x" * 5000, "a\x00b.toml"])
def test_unusable_spec_paths(path):
    with pytest.raises(SpecError) as e:
        load_spec(path)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300


@pytest.mark.parametrize("text", ["{", "[]", "null", "[" * 100_000, '{"name": 1e999}'])
def test_from_json_of_anything_is_a_spec_error(text):
    with pytest.raises(SpecError) as e:
        Spec.from_json(text)
    assert "\n" not in str(e.value) and len(str(e.value)) < 300
    if text in ("{", "[" * 100_000):
        assert str(e.value).startswith("spec JSON: not valid JSON (")


# --- hard caps: sizes no override can make sensible, refused at once ------------------------


@pytest.mark.parametrize(
    "layers,msg",
    [
        (
            [{"units": 1_000_000_000, "activation": "tanh"}],
            "layers[1].units: 1000000000 units is more than any machine can fit (at most 1000000 "
            "per layer, even with allow_large=True or --allow-large)",
        ),
        (
            [{"units": 1, "activation": "tanh"}] * 1001,
            "layers: 1001 hidden layers is more than any machine can compile (at most 1000, even "
            "with allow_large=True or --allow-large)",
        ),
        (
            [{"units": 100_000, "activation": "tanh"}] * 2,
            "layers: 10000000000 weights between hidden layers is more than any machine can fit "
            "(at most 100000000, even with allow_large=True or --allow-large)",
        ),
    ],
)
def test_hard_caps_refuse_at_once(layers, msg):
    import time

    start = time.perf_counter()
    with pytest.raises(SpecError) as e:
        Spec.from_dict({**BASE, "layers": layers})
    assert time.perf_counter() - start < 0.5
    assert str(e.value) == msg


def test_hard_caps_hold_for_specs_built_in_python():
    from bayesstack.spec import MAX_UNITS, Layer

    assert Spec("m", "gaussian", layers=(Layer(MAX_UNITS, "tanh"),)).layers[0].units == MAX_UNITS
    with pytest.raises(SpecError, match=r"^layers\[1\]\.units: 1000001 units is more than"):
        Spec("m", "gaussian", layers=(Layer(MAX_UNITS + 1, "tanh"),))
    with pytest.raises(SpecError, match=r"^layers\[1\]\.activation: unknown activation \['tanh'\]"):
        Spec("m", "gaussian", layers=(Layer(3, ["tanh"]),))
    with pytest.raises(SpecError, match=r"^family: unknown family \['gaussian'\]"):
        Spec("m", ["gaussian"])
    with pytest.raises(SpecError, match=r"^name: must be a non-empty string, got ''"):
        Spec("m", "gaussian").with_name("")
