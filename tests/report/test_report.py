"""The quick demo's report: self-contained, consistent with ArviZ, reproducible."""

import re
from html.parser import HTMLParser

import arviz as az
import numpy as np
import pytest

import bayesstack as bs
from bayesstack.errors import BayesstackError
from bayesstack.geometry.paths import log_density, mode_path
from bayesstack.report import compare_runs
from bayesstack.report.answer import answer_paragraph, describe
from bayesstack.report.render import md_text

pytestmark = pytest.mark.filterwarnings("ignore:Estimated shape parameter")

DEMO_MODELS = {"glm-gaussian", "glm-gaussian-poly2", "deep-linear", "stack1-tanh", "stack2-tanh"}


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.refs += [(tag, k, v or "") for k, v in attrs if k in ("src", "href", "srcset")]


def test_demo_writes_everything(quick_demo):
    names = {p.stem for p in (quick_demo / "runs").glob("*.nc")}
    assert names == DEMO_MODELS
    assert (quick_demo / "report.html").is_file() and (quick_demo / "report.md").is_file()
    assert not list(quick_demo.rglob("*.tmp"))


def test_html_is_self_contained(quick_demo):
    html = (quick_demo / "report.html").read_text()
    p = _Refs()
    p.feed(html)
    assert "script" not in p.tags and "link" not in p.tags and "iframe" not in p.tags
    imgs = [v for tag, k, v in p.refs if tag == "img"]
    assert len(imgs) >= 10
    assert all(v.startswith("data:image/png;base64,") for v in imgs)
    assert not [r for r in p.refs if re.match(r"\s*(https?:)?//", r[2])]
    assert "@import" not in html and "url(" not in html


def test_markdown_images_exist(quick_demo):
    md = (quick_demo / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert len(links) >= 10
    for link in links:
        assert (quick_demo / link).is_file(), link
        assert (quick_demo / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def again(demo_runs, tmp_path_factory):
    """The demo's runs compared again from their files, the geometry analysed again."""
    from bayesstack.demo import TITLE

    paths, _ = demo_runs
    out = tmp_path_factory.mktemp("again") / "report.html"
    return compare_runs(list(paths.values()), out, seed=0, title=TITLE)


def test_table_numbers_equal_az_loo(demo_runs, again):
    paths, _ = demo_runs
    rows = {r.name: r for r in again.comparison.rows}
    assert set(rows) == DEMO_MODELS
    html = again.html.read_text()
    loos = {}
    for name, path in paths.items():
        loo = loos[name] = az.loo(bs.load(path))
        assert rows[name].elpd == pytest.approx(float(loo.elpd), rel=1e-12)
        assert rows[name].elpd_se == pytest.approx(float(loo.se), rel=1e-12)
        assert rows[name].p_loo == pytest.approx(float(loo.p), rel=1e-12)
        assert f"{float(loo.elpd):.1f} ± {float(loo.se):.1f}" in html
    cmp = az.compare(loos, round_to="none")
    for name, row in rows.items():
        assert row.elpd_diff == pytest.approx(float(cmp.loc[name, "elpd_diff"]), abs=1e-9)
        assert row.elpd_dse == pytest.approx(float(cmp.loc[name, "dse"]), abs=1e-9)


def test_paragraph_is_the_one_for_these_numbers(quick_demo, again):
    """The demo's written paragraph is the one its saved runs' numbers give, and those only."""
    md = (quick_demo / "report.md").read_text()
    written = md.split("## 1. The answer\n\n", 1)[1].split("\n\n## 2. Models", 1)[0]
    rows = again.comparison.rows
    assert written == md_text(answer_paragraph(rows))  # recomputed from the files, not copied
    best = min(rows, key=lambda r: r.rank)
    assert describe(best) in answer_paragraph(rows)
    # other numbers give another paragraph: without the best model it must change
    assert answer_paragraph([r for r in rows if r is not best]) != answer_paragraph(rows)


def _body(md_path):
    return md_path.read_text().split("\n", 3)[3]  # after the title and the date line


def test_regenerating_gives_identical_numbers(quick_demo, again):
    """The report made again from the saved runs is the demo's report, number for number."""
    assert _body(again.markdown) == _body(quick_demo / "report.md")
    for png in (quick_demo / "report_files").iterdir():
        assert (again.markdown.parent / "report_files" / png.name).is_file()


def test_geometry_recomputed_is_identical(demo_runs, tmp_path):
    """Without saved geometry the report analyses the runs itself, with the same result."""
    paths, geometry = demo_runs
    rep = compare_runs([paths["glm-gaussian"]], tmp_path / "glm.html", seed=0)
    assert rep.comparison.geometry["glm-gaussian"] == geometry["glm-gaussian"]


def test_missing_output_folder(demo_runs, tmp_path):
    paths, _ = demo_runs
    with pytest.raises(BayesstackError) as e:
        compare_runs([paths["glm-gaussian"]], tmp_path / "nope" / "report.html")
    assert "\n" not in str(e.value)
    from bayesstack.demo import run_demo

    with pytest.raises(BayesstackError):
        run_demo(tmp_path / "nope" / "demo", quick=True, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_log_density_matches_the_sampler(demo_runs):
    paths, _ = demo_runs
    from bayesstack.geometry.canonical import add_canonical

    run = add_canonical(bs.load(paths["stack1-tanh"]))
    ld = log_density(run)
    idx = [(0, 0), (1, 5), (3, 20)]
    got = [ld(ld.draws[c, d]) for c, d in idx]
    stats = run.sample_stats
    lp = stats["logp" if "logp" in stats else "lp"].values
    want = [float(lp[c, d]) for c, d in idx]
    np.testing.assert_allclose(got, want, rtol=1e-8)


def test_drop_along_the_segment_between_stack_modes_but_not_in_the_glm(demo_runs):
    from bayesstack.geometry.canonical import add_canonical

    paths, _ = demo_runs
    t = np.linspace(0, 1, 21)
    glm = mode_path(add_canonical(bs.load(paths["glm-gaussian"])), t)
    stack = mode_path(add_canonical(bs.load(paths["stack1-tanh"])), t)
    assert glm.barrier == 0.0
    assert stack.barrier > 10.0


def test_log_likelihood_is_computed_when_missing(demo_runs):
    from bayesstack.report.compare import ensure_log_likelihood

    paths, _ = demo_runs
    run = bs.load(paths["glm-gaussian"])
    bare = run.copy()
    del bare["log_likelihood"]
    back = ensure_log_likelihood(bare)
    assert "log_likelihood" not in bare.children  # the input is left alone
    np.testing.assert_allclose(
        back["log_likelihood"]["y"].values, run["log_likelihood"]["y"].values, rtol=1e-10
    )
    assert float(az.loo(back).elpd) == pytest.approx(float(az.loo(run).elpd), rel=1e-10)


def test_fit_commands_name_the_runs_builtin_spec(demo_runs):
    from bayesstack.inference.io import spec_of
    from bayesstack.report.compare import COMMAND_ATTR, fit_command

    paths, _ = demo_runs
    run = bs.load(paths["stack1-tanh"])
    stored = run.attrs[COMMAND_ATTR]
    assert stored.startswith("bayesstack fit stack1-tanh --dataset ")
    assert bs.load_spec("stack1-tanh") == spec_of(run)
    del run.attrs[COMMAND_ATTR]  # rebuilt from the spec and the fit settings
    assert fit_command(run).split(" --out ")[0] == stored.split(" --out ")[0]
