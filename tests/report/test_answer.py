"""The answer paragraph is written from the typed numbers it is given."""

from report_rows import mode_class, row

from bayesstack.geometry.evidence import Ridge, Verdict
from bayesstack.geometry.symmetry import ContinuousSymmetry
from bayesstack.report.answer import answer_paragraph, describe


def _pair():
    glm = row("glm", 0, rank=1, elpd=-231.4, elpd_se=8.9, elpd_diff=-191.7, elpd_dse=12.0)
    stack = row("stack1", 1, elpd=-39.7, elpd_se=10.6)
    return glm, stack


def test_paragraph_quotes_the_numbers():
    text = answer_paragraph(list(_pair()))
    assert "The GLM has a unimodal posterior: one mode, and no symmetry" in text
    assert "its posterior in the weights is log-concave (log-concave priors" in text
    assert "negative definite at 100% of draws" in text
    assert "η is affine in θ (curvature of η 0 up to rounding)" in text
    assert "The one-layer tanh stack shows symmetric multimodality: all the posterior mass" in text
    assert "the 48-image orbit of one mode" in text and "the chains sat in 6 raw modes" in text
    assert "canonical R-hat 1.000 and function-space R-hat 1.010 over 8 dispersed chains" in text
    assert "γ·√F of η 0.62 (parameter effects) / 0.1 (intrinsic) at the best optimum" in text
    assert "cond(J) 22" in text and "median 0.6, range 0.55–0.7" in text
    assert "a GLM is a linear model in its parameters on the scale of η" in text
    assert "the nonlinearity matters at the 95% level (γ·√F above 0.5) for the one-layer" in text
    two = answer_paragraph([*_pair(), row("stack2", 2, elpd=-46.0, rank=2)])
    assert "for the one-layer tanh stack and the two-layer tanh stack" in two
    assert "the one-layer tanh stack predicts best (-39.7 ± 10.6)" in text
    assert "the GLM trails by 191.7 ± 12.0" in text


def test_trapped_chains_and_divergences_are_named_under_any_verdict():
    trapped = (
        mode_class(0, 1.0, range(7)),
        mode_class(1, 1e-200, (7,), map_logp=-505.0, mass_bearing=False),
    )
    stack = row(
        "stack1", 1,
        geometry_kw=dict(classes=trapped, trapped_chains=(7,), divergences=120,
                         rhat_canonical_mass=1.003, curvature_parameter_effects=0.3),
    )  # fmt: skip
    text = answer_paragraph([stack])
    assert "chain 7 sat in a local mode 458.6 nats down (mass share 1e-200)" in text
    assert "trapped: it did not sample the posterior" in text
    assert "over the mass-bearing chains" in text and "120 of 4000 transitions divergent" in text
    assert "symmetric multimodality" in text and "beyond" not in text
    assert "matters at the 95% level" not in text  # 0.3 < 0.5


def test_each_verdict_has_its_sentence():
    two = (mode_class(0, 0.6, range(4)), mode_class(1, 0.4, range(4, 8)))
    beyond = answer_paragraph([row("s", 1, geometry_kw=dict(verdict=Verdict.BEYOND, classes=two))])
    assert "is multimodal beyond symmetry: two classes of modes" in beyond
    assert "shares 0.6 (draws), 0.4 (draws)" in beyond
    lik = answer_paragraph([row("s", 1, geometry_kw=dict(verdict=Verdict.LIKELIHOOD, classes=two))])
    assert "likelihood-symmetric multimodality" in lik and "same η at the data" in lik
    ridge = answer_paragraph(
        [
            row(
                "deep", 2, activations=("identity", "identity"),
                geometry_kw=dict(verdict=Verdict.RIDGE, posterior_group="O(3) × O(3)",
                                 ridge=Ridge(4, 6, 4, (0.0,) * 4),
                                 continuous=(ContinuousSymmetry(1, "O", 3, "posterior"),),
                                 classes=(mode_class(orbit=None),)),
            )
        ]
    )  # fmt: skip
    assert "The deep linear stack's posterior is a continuous symmetry ridge" in ridge
    assert "orbit of the O(3) × O(3) group" in ridge and "flat along 4 of the 4 directions" in ridge
    assert "the group has dimension 6; 2 direction(s) fix the point" in ridge
    assert "2,304" not in ridge
    assert "the canonical R-hat 1.000 is no mixing diagnostic here" in ridge


def test_linearity_clauses_follow_the_curvatures():
    poly = row(
        "glm-poly", 0, feature_map="polynomial degree 2", geometry_kw=dict(curvature_inputs=0.4)
    )
    deep = row(
        "deep", 2, activations=("identity", "identity"), geometry_kw=dict(curvature_inputs=0.0)
    )
    text = answer_paragraph([poly, deep])
    assert "a GLM is a linear model in its parameters" in text
    assert "η is not affine in θ even where it is linear in the inputs, as for the deep" in text


def test_log_concavity_is_stated_with_its_reason():
    g = row("glm", 0, geometry_kw=dict(log_concave=False, log_concave_reason="priors not "
            "log-concave on W1 (student_t)", hessian_negdef_fraction=0.97))  # fmt: skip
    text = answer_paragraph([g])
    assert "log-concavity is not implied (priors not log-concave on W1 (student_t))" in text
    assert "negative definite at 97% of draws" in text


def test_describe():
    assert describe(row("g", 0)) == "the GLM"
    assert describe(row("g", 0, feature_map="polynomial degree 2")) == (
        "the GLM on polynomial features"
    )
    assert describe(row("s", 2)) == "the two-layer tanh stack"
    assert describe(row("d", 2, activations=("identity", "identity"))) == "the deep linear stack"


def test_single_model_has_no_ranking():
    text = answer_paragraph([row("glm", 0)])
    assert "ELPD" not in text
    assert "Every model compared has η affine in its parameters." in text


def test_several_trapped_chains_are_named_together():
    trapped = (
        mode_class(0, 1.0, (0, 1, 2, 4, 6, 7)),
        mode_class(1, 6e-16, (3, 5), map_logp=-62.7, mass_bearing=False),
    )
    text = answer_paragraph(
        [row("s2", 2, geometry_kw=dict(classes=trapped, trapped_chains=(3, 5)))]
    )
    assert "chains 3 and 5 sat in a local mode 16.3 nats down (mass share 6e-16)" in text
    assert "trapped: they did not sample the posterior" in text
