"""The answer paragraph is written from the numbers it is given."""

from bayesstack.report.answer import answer_paragraph, describe


def _row(name, depth, **kw):
    row = {
        "name": name,
        "depth": depth,
        "activations": ["tanh"] * depth,
        "feature_map": "",
        "chains": 8,
        "verdict": "unimodal" if depth == 0 else "symmetric multimodality",
        "rhat_max_raw": 1.0 if depth == 0 else 2.4,
        "rhat_max_canonical": 1.0,
        "rhat_max_function": 1.01,
        "modes_raw": 1 if depth == 0 else 6,
        "modes_canonical": 1,
        "map_optima_raw": 1,
        "map_optima_canonical": 1,
        "hessian_negdef_fraction": 1.0,
        "posterior_group_order": 1 if depth == 0 else 48,
        "continuous_symmetries": [],
        "curvature_parameter_effects": 1e-12 if depth == 0 else 0.31,
        "curvature_intrinsic": 1e-13 if depth == 0 else 0.05,
        "curvature_inputs": 0.0 if depth == 0 else 0.8,
        "elpd": -231.4 if depth == 0 else -39.7,
        "elpd_se": 8.9 if depth == 0 else 10.6,
        "elpd_diff": -191.7 if depth == 0 else 0.0,
        "elpd_dse": 12.0 if depth == 0 else 0.0,
        "rank": 1 if depth == 0 else 0,
    }
    row.update(kw)
    return row


def test_paragraph_quotes_the_numbers():
    text = answer_paragraph([_row("glm", 0), _row("stack1", 1)])
    assert "The GLM has a unimodal posterior (R-hat 1.00 from 8 dispersed chains" in text
    assert "one MAP optimum, log-concave at every draw, curvature 0" in text
    assert "6 modes that are images of each other under its 48-element symmetry group" in text
    assert "weight-space R-hat 2.40" in text and "function-space R-hat 1.01" in text
    assert "parameter-effects curvature 0.31" in text
    assert "a GLM is a linear model in its parameters" in text
    assert "the one-layer tanh stack predicts best (-39.7 ± 10.6)" in text
    assert "the GLM trails by 191.7 ± 12.0" in text


def test_paragraph_changes_with_the_numbers():
    a = answer_paragraph([_row("glm", 0), _row("stack1", 1)])
    b = answer_paragraph(
        [
            _row("glm", 0, rhat_max_raw=1.03, map_optima_raw=2, hessian_negdef_fraction=0.97),
            _row(
                "stack1",
                1,
                verdict="multimodal beyond symmetry",
                modes_raw=4,
                modes_canonical=2,
                rhat_max_raw=3.1,
                curvature_parameter_effects=0.12,
            ),
        ]
    )
    assert a != b
    assert "R-hat 1.03" in b and "two MAP optima" in b
    assert "Hessian negative definite at 97% of draws" in b
    assert "its chains sit in four modes that fall into two classes even up to" in b
    assert "parameter-effects curvature 0.12" in b and "0.31" not in b


def test_linearity_clauses_follow_the_curvatures():
    poly = _row("glm-poly", 0, feature_map="polynomial degree 2", curvature_inputs=0.4)
    deep = _row("deep", 2, activations=["identity", "identity"], curvature_inputs=0.0)
    text = answer_paragraph([poly, deep])
    assert "linear in its parameters but not in its inputs (input curvature 0.4)" in text
    assert "linear in its inputs (input curvature 0) but not in its parameters" in text
    assert "even where it is linear in its inputs, as the deep linear stack is" in text


def test_modes_found_by_map_only():
    deep = _row(
        "deep",
        2,
        activations=["identity", "identity"],
        modes_raw=1,
        map_optima_raw=12,
        hessian_negdef_fraction=0.0,
        continuous_symmetries=["O(3) on hidden1 (posterior)", "GL(3) on hidden1 (likelihood only)"],
    )
    text = answer_paragraph([deep])
    assert "shows one mode in its chains but 12 MAP optima that are images of each other" in text
    assert "symmetry group and the continuous O(3) on hidden1 (weight-space" in text
    assert "GL(3)" not in text
    assert "Hessian negative definite at 0% of draws" in text
    orbit = answer_paragraph([{**deep, "map_optima_raw": 1}])
    assert "shows one mode and one MAP optimum, on a continuous orbit of maxima under its" in orbit
    two = _row(
        "s2", 2, verdict="multimodal beyond symmetry", map_optima_raw=19, map_optima_canonical=2
    )
    text = answer_paragraph([two])
    assert "is multimodal beyond symmetry: its chains sit in 6 modes, images of each other" in text
    assert "multi-start MAP finds two optima distinct even up to symmetry" in text


def test_describe():
    assert describe(_row("g", 0)) == "the GLM"
    assert describe(_row("g", 0, feature_map="polynomial degree 2")) == (
        "the GLM on polynomial features"
    )
    assert describe(_row("s", 2)) == "the two-layer tanh stack"
    assert describe(_row("d", 2, activations=["identity", "identity"])) == "the deep linear stack"


def test_single_model_has_no_ranking():
    text = answer_paragraph([_row("glm", 0)])
    assert "ELPD" not in text
    assert "Every model compared is linear in its parameters." in text
