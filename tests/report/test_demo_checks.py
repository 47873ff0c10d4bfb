"""The demo checks its outputs before any work: nothing is fitted or written on a bad location."""

import pytest

from bayesstack.demo import run_demo
from bayesstack.errors import BayesstackError


def test_a_foreign_geometry_json_stops_the_demo_before_any_fit(tmp_path):
    runs = tmp_path / "out" / "runs"
    runs.mkdir(parents=True)
    (runs / "stack1-tanh.geometry.json").write_text('{"my": "notes"}')
    with pytest.raises(BayesstackError, match="not written by bayesstack"):
        run_demo(tmp_path / "out", quick=True, progress=False)
    assert sorted(p.name for p in runs.iterdir()) == ["stack1-tanh.geometry.json"]
    assert (runs / "stack1-tanh.geometry.json").read_text() == '{"my": "notes"}'


def test_runs_that_is_a_file_stops_the_demo(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "runs").write_text("x")
    with pytest.raises(BayesstackError, match=r"--out: .*runs' is a file; give a folder"):
        run_demo(tmp_path / "out", quick=True, progress=False)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["runs"]


def test_a_missing_parent_is_one_line(tmp_path):
    with pytest.raises(BayesstackError, match="does not exist"):
        run_demo(tmp_path / "no" / "out", quick=True, progress=False)
    assert not (tmp_path / "no").exists()
