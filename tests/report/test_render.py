"""Rendering without fits: paths, atomic writes, tables and templates on made-up numbers."""

import dataclasses
import zlib
from html.parser import HTMLParser

import pandas as pd
import pytest
from report_rows import row

from bayesstack.errors import BayesstackError
from bayesstack.inference.outputs import atomic_write
from bayesstack.report.compare import Comparison, RunInfo
from bayesstack.report.plots import Figure
from bayesstack.report.render import (
    context,
    linearity_table,
    md_text,
    model_table,
    output_paths,
    render_html,
    render_markdown,
    write_files,
)

# a 1x1 transparent PNG
BARE_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def _marked(png: bytes) -> bytes:
    """``png`` with a ``generator`` text chunk after its header, as ``plots.to_png`` writes."""
    from bayesstack.inference.outputs import GENERATOR

    body = b"tEXt" + b"generator\x00" + GENERATOR.encode()
    chunk = len(body[4:]).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    return png[:33] + chunk + png[33:]


PNG = _marked(BARE_PNG)


def _row(name, depth, **kw):
    geo = {k: kw.pop(k) for k in ("curvature_inputs",) if k in kw} | kw.pop("geometry_kw", {})
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
    assert rows["GLM posterior log-concave by construction"] == (
        "yes, for fixed sigma",  # gaussian: the statement holds given the noise scale
        "not implied (a stack)",
    )


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
    assert "a\\|b&lt;i&gt;" in md and "![R-hat](r_files/rhat.png)" in md
    assert md_text(ctx["paragraph"]) in md
    paths = write_files(comp, figs, tmp_path / "r.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.md", "r_files"]
    assert (tmp_path / "r_files" / "rhat.png").read_bytes() == PNG
    assert paths.images == (tmp_path / "r_files" / "rhat.png",)


def test_rows_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        _row("glm", 0).elpd = 0.0


HOSTILE = (
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(2)">',
    "[click](javascript:alert(3))",
    "<a href='javascript:alert(4)'>x</a>",
    "a\n\n<svg onload=alert(5)>",
    "```\n<script>alert(6)</script>",
    "<!-- x --><iframe src=javascript:alert(7)>",
)


class _Active(HTMLParser):
    """Every element, event handler and javascript: link in HTML."""

    def __init__(self):
        super().__init__()
        self.tags, self.bad = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k.startswith("on") or (v or "").strip().lower().startswith("javascript:"):
                self.bad.append((tag, k, v))


def _hostile_comparison():
    rows = [
        _row(HOSTILE[0], 0, geometry_kw={"warnings": (f"chain {HOSTILE[1]}",)}),
        _row(HOSTILE[2], 1, rank=1, elpd_diff=-3.0, geometry_kw={"notes": (HOSTILE[3],)}),
        _row(HOSTILE[4], 2, rank=2, elpd_diff=-4.0),
        _row(HOSTILE[5], 1, rank=3, elpd_diff=-5.0),
    ]
    comp = _comparison(rows)
    info = tuple(
        dataclasses.replace(p, path=f"/x/{HOSTILE[6]}.nc", dataset=f"{HOSTILE[1]}.csv")
        for p in comp.provenance
    )
    return dataclasses.replace(comp, provenance=info), rows


def test_markdown_renders_hostile_names_as_text(tmp_path):
    """report.md through a standard Markdown renderer (CommonMark, raw HTML allowed)."""
    from markdown_it import MarkdownIt

    comp, rows = _hostile_comparison()
    figs = [Figure(f"trace-{i}", f"Trace plot: {r.name}", f"caption {r.name}", PNG)
            for i, r in enumerate(rows)]  # fmt: skip
    md = render_markdown(context(comp, figs, title=HOSTILE[1]), "r_files")
    html = MarkdownIt("commonmark").enable("table").render(md)  # GFM tables
    p = _Active()
    p.feed(html)
    assert p.bad == []
    assert not {"script", "iframe", "svg", "a"} & set(p.tags), set(p.tags)
    assert set(p.tags) >= {"h1", "table", "img", "pre", "code"}
    # the names are shown, as text: escaped once in the HTML, so a browser shows them as given
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "[click](javascript:alert(3))" in html
    # and a code block cannot be closed from inside: only the template's fences close
    assert html.count("<pre>") == md.count("bash\n") + md.count("text\n") + md.count("json\n")


def test_the_same_names_are_inert_in_the_html():
    comp, _rows = _hostile_comparison()
    html = render_html(context(comp, [], title=HOSTILE[1]))
    p = _Active()
    p.feed(html)
    assert p.bad == [] and not {"script", "iframe", "svg", "a"} & set(p.tags)


def test_reports_carry_the_generator_marker_and_replace_only_their_own(tmp_path):
    from bayesstack.inference.outputs import GENERATOR, is_generated

    comp = _comparison([_row("glm", 0)])
    figs = [Figure("rhat", "R-hat", "what to see", PNG)]
    write_files(comp, figs, tmp_path / "r.html")
    html, md = (tmp_path / "r.html").read_text(), (tmp_path / "r.md").read_text()
    assert f'<meta name="generator" content="{GENERATOR}">' in html
    assert md.splitlines()[1] == f"<!-- generator: {GENERATOR} -->"  # under the title
    assert all(is_generated(p) for p in (tmp_path / "r.html", tmp_path / "r.md"))
    write_files(comp, figs, tmp_path / "r.html")  # a rerun replaces them
    (tmp_path / "r.md").write_text("my notes")
    with pytest.raises(BayesstackError, match="not written by bayesstack"):
        write_files(comp, figs, tmp_path / "r.html")
    assert (tmp_path / "r.md").read_text() == "my notes"


def test_figure_pngs_carry_the_marker():
    import matplotlib.pyplot as plt

    from bayesstack.inference.outputs import GENERATOR
    from bayesstack.report.plots import to_png

    fig = plt.figure()
    png = to_png(fig)
    plt.close(fig)
    assert b"generator\x00" + GENERATOR.encode() in png


def test_a_300_character_name_gets_a_short_figure_file(tmp_path):
    from bayesstack.report.plots import _slug

    long = "m" * 300
    key = f"slice-{_slug(long)}"
    assert len(f"{key}.png".encode()) <= 255 and _slug(long) != _slug("m" * 299)
    comp = _comparison([_row(long, 0)])
    paths = write_files(comp, [Figure(key, "t", "c", PNG)], tmp_path / "r.html")
    assert paths.images[0].is_file()


def test_no_empty_image_folder_after_a_failure(tmp_path, monkeypatch):
    import bayesstack.report.render as render

    def boom(*a, **k):
        raise BayesstackError("--out: writing failed")

    monkeypatch.setattr(render, "write_output", boom)
    with pytest.raises(BayesstackError):
        write_files(_comparison([_row("glm", 0)]), [Figure("rhat", "t", "c", PNG)], tmp_path / "r")
    assert list(tmp_path.iterdir()) == []


def test_markdown_text_reads_as_written():
    """Plain punctuation stays readable in report.md itself (only &, < and > become entities)."""
    from markdown_it import MarkdownIt

    from bayesstack.report.render import md_text

    s = 'the deep linear stack\'s "ridge" <b>'
    md = md_text(s)
    assert 'stack\'s "ridge"' in md and "&#x27;" not in md and "&lt;b&gt;" in md
    assert MarkdownIt("commonmark").render(md).strip() == (
        "<p>the deep linear stack's &quot;ridge&quot; &lt;b&gt;</p>"
    )
