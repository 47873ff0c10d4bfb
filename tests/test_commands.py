"""Every command as a user runs it: a fresh process, tiny settings, files on disk.

As numpyro tests its examples: ``python -m bayesstack.cli COMMAND ...`` in a subprocess, so that
the entry point, argument parsing, exit codes and the files written are what a user gets.
"""

import json
import subprocess
import sys

import pytest

TINY = ["--chains", "2", "--draws", "30", "--tune", "30", "--seed", "1"]


def bayesstack(*args, cwd, check=True):
    out = subprocess.run(
        [sys.executable, "-m", "bayesstack.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if check:
        assert out.returncode == 0, out.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("commands")
    for spec in ("glm-gaussian", "stack1-tanh"):
        bayesstack(
            "fit", spec, "--dataset", "teacher-gaussian", "--out", f"{spec}.nc", *TINY, cwd=d
        )
    return d


def test_fit_writes_a_run_and_says_so(runs):
    import bayesstack as bs

    run = bs.load(runs / "stack1-tanh.nc")
    assert run["posterior"].sizes == {"chain": 2, "draw": 30, **{"feature": 2, "hidden1": 3}}
    assert bs.spec_of(run).name == "stack1-tanh"


def test_summary(runs):
    out = bayesstack("summary", "glm-gaussian.nc", cwd=runs)
    assert "W1" in out.stdout and "divergences" in out.stdout


def test_geometry_writes_its_json(runs):
    bayesstack("geometry", "stack1-tanh.nc", "--json", "geo.json", cwd=runs)
    geo = json.loads((runs / "geo.json").read_text())
    assert geo["model"] == "stack1-tanh" and geo["chains"] == 2 and geo["verdict"]


def test_compare_writes_html_and_markdown(runs):
    bayesstack("compare", "glm-gaussian.nc", "stack1-tanh.nc", "--out", "rep.html", cwd=runs)
    html = (runs / "rep.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "stack1-tanh" in html
    assert (runs / "rep.md").read_text().startswith("# ")


def test_datasets(tmp_path):
    out = bayesstack("datasets", cwd=tmp_path)
    assert "teacher-gaussian" in out.stdout and "star98" in out.stdout


@pytest.mark.parametrize(
    "command", ["fit", "summary", "geometry", "compare", "datasets", "demo", "bench"]
)
def test_every_command_has_help(command, tmp_path):
    out = bayesstack(command, "--help", cwd=tmp_path)
    assert "Usage" in out.stdout or "usage" in out.stdout


def test_bad_input_is_one_line_and_exit_code_2(tmp_path):
    out = bayesstack("fit", "no-such-spec", "--dataset", "teacher-gaussian", "--out", "r.nc",
                     cwd=tmp_path, check=False)  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.startswith("error: spec 'no-such-spec'") and out.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []
