"""Property-based tests of the spec validator (issue 18): it cannot crash.

The property: any dict, any JSON-like value and any TOML text gives either a ``Spec`` that
round-trips through ``to_dict`` and ``to_json``, or exactly one ``SpecError`` whose message is
one line under 300 characters. The strategies start from valid specs and mutate them (wrong
types, huge integers, NaN and infinities, lists, nested tables, unknown keys, deleted keys),
so that most cases reach the deep checks, not only the first one. Derandomized: every run
tests the same examples. Run with ``-s`` to print the counts.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayesstack.errors import SpecError
from bayesstack.registry import ACTIVATIONS, FAMILIES, PRIORS
from bayesstack.spec import Spec, loads_spec

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# every name a spec knows: field names, and the values of its tables
NAMES = sorted(
    {"name", "family", "link", "layers", "output", "priors", "trials", "description"}
    | {"units", "activation", "bias", "weights", "noise", "nu", "dispersion", "dist"}
    | set(FAMILIES)
    | {link for f in FAMILIES.values() for link in f.links}
    | set(ACTIVATIONS)
    | set(PRIORS)
    | {p for k in PRIORS.values() for p in k.params}
    | {"sqrt", ""}
)
# integers whose repr() fails (over 4300 digits) are built when drawn: hypothesis reprs constants
HUGE = st.sampled_from([5000, -5000, 400, 63, 64, 53, 9, 6]).map(
    lambda e: (10 ** abs(e) + 1) * (1 if e > 0 else -1)
)
ODD = [math.nan, math.inf, -math.inf, 0, -1, 0.0, -0.0, 1e308, 5e-324, True, False, None]

names = st.sampled_from(NAMES)
keys = names | st.text(max_size=8)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | HUGE
    | st.sampled_from(ODD)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | names
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=24,
)
bad_values = (
    json_values
    | HUGE
    | st.sampled_from(ODD)
    | st.sampled_from(
        [
            "",
            [],
            {},
            ["tanh"],
            {"a": 1},
            {"dist": {"a": 1}},
            "x" * 10_000,
            [{"units": 1, "activation": "tanh"}] * 1001,
            [{"units": 5000, "activation": "tanh"}] * 30,
            [[[[[[[[1]]]]]]]],
        ]
    ).map(copy.deepcopy)  # mutations change drawn values in place
)


def prior_tables(positive: bool):
    """A valid prior table for a weight (``positive=False``) or a positive quantity."""
    kinds = sorted(k for k, v in PRIORS.items() if v.positive == positive)

    @st.composite
    def draw_prior(draw):
        kind = PRIORS[draw(st.sampled_from(kinds))]
        table = {"dist": kind.name}
        for p in kind.params:
            if draw(st.booleans()):
                table[p] = draw(
                    st.floats(min_value=1e-3, max_value=1e3)
                    | st.integers(min_value=1, max_value=99)
                )
        return table

    return draw_prior()


# built once: building strategies inside a draw is slow
WEIGHT_PRIOR, POSITIVE_PRIOR = prior_tables(False), prior_tables(True)
LAYER_PRIORS = st.fixed_dictionaries({}, optional={"weights": WEIGHT_PRIOR, "bias": WEIGHT_PRIOR})
GLOBAL_PRIORS = st.fixed_dictionaries(
    {},
    optional={
        "weights": WEIGHT_PRIOR,
        "bias": WEIGHT_PRIOR,
        "noise": POSITIVE_PRIOR,
        "nu": POSITIVE_PRIOR,
        "dispersion": POSITIVE_PRIOR,
    },
)
OUTPUT = st.fixed_dictionaries({}, optional={"bias": st.booleans(), "priors": LAYER_PRIORS})
SPEC_NAMES = st.text(min_size=1, max_size=12).filter(str.isprintable)


@st.composite
def valid_specs(draw) -> dict:
    """A spec table that ``Spec.from_dict`` accepts."""
    family = draw(st.sampled_from(sorted(FAMILIES)))
    d = {"name": draw(SPEC_NAMES), "family": family}
    if draw(st.booleans()):
        d["link"] = draw(st.sampled_from(FAMILIES[family].links))
    layers = []
    for _ in range(draw(st.integers(0, 3))):
        layer = {
            "units": draw(st.integers(1, 8)),
            "activation": draw(st.sampled_from(sorted(ACTIVATIONS))),
        }
        if draw(st.booleans()):
            layer["bias"] = draw(st.booleans())
        if draw(st.booleans()):
            layer["priors"] = draw(LAYER_PRIORS)
        layers.append(layer)
    if layers or draw(st.booleans()):
        d["layers"] = layers
    priors = draw(GLOBAL_PRIORS)
    if priors:
        d["priors"] = priors
    if draw(st.booleans()):
        d["output"] = draw(OUTPUT)
    if draw(st.booleans()):
        d["trials"] = draw(st.integers(1, 1000) | st.sampled_from(["n", "trials"]))
    if draw(st.booleans()):
        d["description"] = draw(st.text(max_size=30))
    return d


def _paths(node, path=()):
    """Every place in a nested table: a path of keys and list indices."""
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def _set(root, path, value):
    if not path:
        return value
    node = root
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return root


def _get(root, path):
    for k in path:
        root = root[k]
    return root


@st.composite
def mutated_specs(draw) -> object:
    """A valid spec with one to three mutations anywhere in it."""
    d = draw(valid_specs())
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        paths = list(_paths(d))[1:]  # not the root: test_any_json_like_value covers it
        deep = [p for p in paths if len(p) > 1]  # inside layers, priors and output
        if deep and draw(st.booleans()):
            paths = deep
        paths.sort(key=len, reverse=True)  # hypothesis favours the first: make it a deep one
        path = draw(st.sampled_from(paths)) if paths else ()
        op = draw(st.sampled_from(["replace", "replace", "delete", "add", "list", "table"]))
        node = _get(d, path)
        if op == "replace":
            d = _set(d, path, draw(bad_values))
        elif op == "delete" and path:
            parent = _get(d, path[:-1])
            del parent[path[-1]]
        elif op == "add" and isinstance(node, dict):
            node[draw(keys)] = draw(bad_values)
        elif op == "list":
            d = _set(d, path, [node])
        elif op == "table":
            d = _set(d, path, {draw(names): node})
    return d


# --- TOML text ---------------------------------------------------------------------------
_BARE = re.compile(r"[A-Za-z0-9_-]+")


def to_toml(d: dict) -> str:
    """A spec table as TOML text (inline tables and arrays; ``None`` has no TOML form)."""
    lines = []
    for k, v in d.items():
        if v is not None:
            lines.append(f"{_key(k)} = {_value(v)}")
    return "\n".join(lines) + "\n"


def _key(k) -> str:
    k = str(k)
    return k if _BARE.fullmatch(k) else json.dumps(k)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        try:
            return str(v)
        except ValueError:  # over 4300 digits: write the digits out
            return "9" * 5000
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v if x is not None) + "]"
    if isinstance(v, dict):
        items = [f"{_key(k)} = {_value(x)}" for k, x in v.items() if x is not None]
        return "{ " + ", ".join(items) + " }"
    return '"?"'


@st.composite
def toml_texts(draw) -> str:
    """TOML text of a valid or mutated spec, often damaged as text too."""
    d = draw(valid_specs() | mutated_specs())
    text = to_toml(d) if isinstance(d, dict) else _value(d)
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["bom", "insert", "delete", "number", "nest", "crlf"]))
        i = draw(st.integers(0, len(text)))
        if op == "bom":
            text = "\ufeff" + text
        elif op == "insert":
            text = (
                text[:i]
                + draw(st.text(max_size=4) | st.sampled_from(list("[]{}=\"'\n#")))
                + text[i:]
            )
        elif op == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 5)) :]
        elif op == "number":
            text = (
                text[:i]
                + draw(st.sampled_from(["9" * 5000, "1e999", "nan", "-0", "0x1F"]))
                + text[i:]
            )
        elif op == "nest":
            text += f"\nx = {'[' * 2000}{']' * 2000}\n"
        elif op == "crlf":
            text = text.replace("\n", "\r\n")
    return text


# --- the property -------------------------------------------------------------------------
STATS: Counter = Counter()


def check(make) -> None:
    """``make()`` gives a Spec that round-trips, or one SpecError of one short line."""
    STATS["cases"] += 1
    try:
        spec = make()
    except SpecError as e:
        msg = str(e)
        STATS["errors"] += 1
        STATS["deep"] += bool(re.match(r"[\w.]*(\[\d+\]|\.)[\w.\[\]]*: ", msg))  # layers[2].units
        STATS["longest"] = max(STATS["longest"], len(msg))
        assert msg and "\n" not in msg and "\r" not in msg, msg
        assert len(msg) < 300, msg
        return
    except Exception:
        STATS["crashes"] += 1
        raise
    STATS["specs"] += 1
    assert isinstance(spec, Spec)
    assert Spec.from_dict(spec.to_dict()) == spec
    assert Spec.from_json(spec.to_json()) == spec
    assert len(spec.hash) == 12


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    print(
        f"\nspec fuzz: {STATS['cases']} cases, {STATS['specs']} specs, {STATS['errors']} clean "
        f"SpecErrors ({STATS['deep']} inside layers, priors or output), {STATS['crashes']} "
        f"crashes, longest message {STATS['longest']} characters"
    )


@settings(FUZZ, max_examples=200)
@given(valid_specs())
def test_valid_specs_round_trip(d):
    check(lambda: Spec.from_dict(d))
    check(lambda: loads_spec(to_toml(d)))


@settings(FUZZ, max_examples=1000)
@given(mutated_specs())
def test_mutated_specs(d):
    check(lambda: Spec.from_dict(d))


@settings(FUZZ, max_examples=300)
@given(json_values | st.dictionaries(keys, json_values, max_size=6))
def test_any_json_like_value(d):
    check(lambda: Spec.from_dict(d))
    if _jsonable(d):
        check(lambda: Spec.from_json(json.dumps(d)))


@settings(FUZZ, max_examples=200)
@given(
    st.dictionaries(
        st.none() | st.integers() | st.tuples(st.integers()) | keys, bad_values, max_size=4
    )
)
def test_python_dicts_with_any_keys(d):
    check(lambda: Spec.from_dict(d))


@settings(FUZZ, max_examples=700)
@given(toml_texts())
def test_toml_text(text):
    check(lambda: loads_spec(text))


@settings(FUZZ, max_examples=200)
@given(st.text(max_size=80))
def test_any_text(text):
    check(lambda: loads_spec(text))


def _jsonable(d) -> bool:
    try:
        json.dumps(d)
    except ValueError:  # integers over 4300 digits
        return False
    return True
