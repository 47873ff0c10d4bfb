"""Rendering without fits: paths, atomic writes, tables and templates on made-up numbers."""

import dataclasses

import pandas as pd
import pytest
from report_rows import row

from bayesstack.errors import BayesstackError
from bayesstack.report.compare import Comparison, RunInfo
from bayesstack.report.plots import Figure
from bayesstack.report.render import (
    atomic_write,
    context,
    linearity_table,
    model_table,
    output_paths,
    render_html,
    render_markdown,
    write_files,
)

# a 1x1 transparent PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def _row(name, depth, **kw):
    geo = {k: kw.pop(k) for k in ("curvature_inputs",) if k in kw}
    return row(name, depth, geometry_kw=geo, **kw)


def _comparison(rows):
    info = [
        RunInfo(
            r.name,
            f"/x/{r.name}.nc",
            "teacher-gaussian",
            {"chains": 8, "seed": 3},
            "0.1",
            "abc",
            1.5,
            f"bayesstack fit models/{r.name}.toml --seed 3",
        )
        for r in rows
    ]
    cmp = pd.DataFrame({"rank": [r.rank for r in rows]}, index=[r.name for r in rows])
    geo = {r.name: {"verdict": str(r.geometry.verdict), "link": "http://example.org"} for r in rows}
    return Comparison(tuple(rows), cmp, {}, geo, tuple(info), {"python": "3.12"}, 3)


def test_missing_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(BayesstackError) as e:
        output_paths(tmp_path / "nope" / "report.html")
    assert "\n" not in str(e.value) and "does not exist" in str(e.value)
    assert list(tmp_path.iterdir()) == []


def test_output_paths(tmp_path):
    html, md, img = output_paths(tmp_path / "r.html")
    assert (html.name, md.name, img.name) == ("r.html", "r.md", "r_files")
    assert output_paths(tmp_path / "r")[0].name == "r.html"


def test_atomic_write_leaves_only_the_file(tmp_path):
    atomic_write(tmp_path / "a.txt", b"one")
    atomic_write(tmp_path / "a.txt", b"two")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").read_bytes() == b"two"


def test_model_table_formats_numbers():
    t = model_table([_row("stack", 1, elpd=-39.71, elpd_se=10.63), _row("glm", 0)])
    assert t.header == ("", "glm", "stack")  # GLMs first
    rows = dict((r[0], r[1:]) for r in t.rows)
    assert rows["ELPD-LOO ± SE"] == ("-231.4 ± 8.9", "-39.7 ± 10.6")
    assert rows["posterior symmetry group"] == ("trivial", "48")
    assert rows["verdict"] == ("unimodal", "symmetric multimodality")
    assert rows["γ·√F of η at the best optimum: param. effects / intrinsic"] == (
        "0 / 0 (η affine in θ)",
        "0.62 / 0.1",
    )
    assert rows["cond(J) at the best optimum"] == ("3", "22")
    assert rows["stacking weight per chain"][1] == " ".join(["0.12"] * 8)
    assert rows["trapped chains (did not sample the posterior)"] == ("none", "none")
    assert rows["GLM posterior log-concave by construction"] == ("yes", "not implied (a stack)")


def test_linearity_table_places_every_model():
    rows = [
        _row("glm", 0),
        _row("poly", 0, curvature_inputs=0.4, feature_map="polynomial degree 2"),
        _row("deep", 2, activations=("identity", "identity"), curvature_inputs=0.0),
        _row("tanh", 1),
    ]
    t = linearity_table(rows)
    (lin_lin, lin_non), (non_lin, non_non) = (r[1:] for r in t.rows)
    assert "[glm]" in lin_lin and "[poly]" in lin_non and "κx = 0.4" in lin_non
    assert "[deep]" in non_lin and "[tanh]" in non_non and "γ·√F of η in θ = 0.62" in non_non
    t2 = linearity_table(rows[:1])
    assert t2.rows[1][1] == "(no model compared)"


def test_templates_render_and_escape(tmp_path):
    rows = [_row("glm", 0), _row("a|b<i>", 1, rank=1, elpd_diff=-10.0)]
    comp = _comparison(rows)
    figs = [Figure("rhat", "R-hat", "what to see", PNG)]
    ctx = context(comp, figs, title="T")
    html = render_html(ctx)
    assert "a|b&lt;i&gt;" in html and "<i>" not in html.split("<body>")[1].split("</h1>")[0]
    assert 'src="data:image/png;base64,' in html
    md = render_markdown(ctx, "r_files")
    assert "a\\|b<i>" in md and "![R-hat](r_files/rhat.png)" in md
    assert ctx["paragraph"] in md
    paths = write_files(comp, figs, tmp_path / "r.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.md", "r_files"]
    assert (tmp_path / "r_files" / "rhat.png").read_bytes() == PNG
    assert paths.images == (tmp_path / "r_files" / "rhat.png",)


def test_rows_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _row("glm", 0).elpd = 0.0
