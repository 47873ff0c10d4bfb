"""The report's "commands that regenerate every run", executed verbatim, give the same draws.

Two tiny runs: a binomial GLM from a spec that is not built in, fitted by the CLI on a CSV
file with a trials column and without standardisation; and a built-in spec on a built-in
dataset, fitted from Python. The report's bash block is run as it is printed, in a fresh
folder holding only the CSV, and every posterior array must equal the original's exactly.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import bayesstack as bs
from bayesstack.inference.runs import COMMAND_ATTR, fit_command, spec_toml
from bayesstack.report import compare_runs

TINY = ["--chains", "2", "--draws", "30", "--tune", "30", "--seed", "11"]
SPEC = 'name = "binomial glm; $(touch pwned) <b>"\nfamily = "binomial"\ntrials = "n"\n'


def _bayesstack(*args, cwd, stdin=None):
    exe = Path(sys.executable).with_name("bayesstack")
    out = subprocess.run(
        [str(exe), *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The two runs in one folder (relative paths, as a user would have them)."""
    d = tmp_path_factory.mktemp("cmds")
    rng = np.random.default_rng(3)
    x1, x2 = rng.normal(size=40), rng.normal(2.0, 3.0, size=40)
    n = rng.integers(1, 9, size=40)
    y = rng.binomial(n, 1 / (1 + np.exp(-(0.5 * x1 - 0.2 * x2))))
    rows = [
        "x1,x2,n,y",
        *(f"{a:.6f},{b:.6f},{k},{v}" for a, b, k, v in zip(x1, x2, n, y, strict=True)),
    ]
    (d / "data.csv").write_text("\n".join(rows) + "\n")
    (d / "glm.toml").write_text(SPEC)
    _bayesstack(
        "fit", "glm.toml", "--data", "data.csv", "--target", "y", "--no-standardize",
        "--out", "csv.nc", *TINY, cwd=d,
    )  # fmt: skip
    spec = bs.load_spec("glm-logistic")
    run = bs.fit(spec, bs.load_dataset("spector"), chains=2, draws=30, tune=30, seed=4)
    bs.save(run, d / "spector.nc")
    return d


def test_the_report_commands_reproduce_every_run(fitted, tmp_path, monkeypatch):
    monkeypatch.chdir(fitted)
    script = ""
    for run in ("csv.nc", "spector.nc"):  # different data: one report each (LOO needs one y)
        rep = compare_runs([run], tmp_path / f"{run}.html", progress=False)
        md = rep.markdown.read_text()
        head = r"### Commands that regenerate every run\n\n(`{3,})bash\n(.*?)\n\1\n"
        block = re.search(head, md, re.S)
        assert block, md[-4000:]
        script += block.group(2) + "\n"
    assert "--data data.csv --target y --trials n --no-standardize" in script
    assert "bayesstack fit glm-logistic --dataset spector " in script
    assert not [ln for ln in script.splitlines() if ln.startswith("# ") and "fit" in ln]
    again = tmp_path / "again"
    again.mkdir()
    shutil.copy(fitted / "data.csv", again / "data.csv")
    env_bin = str(Path(sys.executable).parent)
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=again,
        capture_output=True,
        text=True,
        timeout=900,
        env={"PATH": f"{env_bin}:/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert not (again / "pwned").exists()  # the spec's name stays data
    for name in ("csv.nc", "spector.nc"):
        old, new = bs.load(fitted / name), bs.load(again / name)
        assert bs.spec_of(new) == bs.spec_of(old)
        assert new.attrs["preprocessing"] == old.attrs["preprocessing"]
        for var in old["posterior"].data_vars:
            new_v, old_v = new["posterior"][var].values, old["posterior"][var].values
            np.testing.assert_array_equal(new_v, old_v)


def test_the_csv_command_states_its_data_and_settings(fitted, tmp_path, monkeypatch):
    shutil.copy(fitted / "data.csv", tmp_path / "data.csv")
    monkeypatch.chdir(tmp_path)
    run = bs.load(fitted / "csv.nc")
    cmd = fit_command(run, "csv.nc")
    first = cmd.splitlines()[0]
    assert first.startswith("bayesstack fit /dev/stdin --data data.csv --target y --trials n ")
    for flag in ("--sampler numpyro", "--init uniform", "--seed 11", "--chains 2", "--draws 30"):
        assert flag in first
    assert spec_toml(bs.spec_of(run)) in cmd  # the spec travels in a here-document
    # the data changed since the fit: the command says so above itself
    text = (tmp_path / "data.csv").read_text()
    (tmp_path / "data.csv").write_text(text.replace(",1\n", ",0\n", 1))
    assert fit_command(run, "csv.nc").startswith("# the data file has changed since the fit")
    (tmp_path / "data.csv").unlink()
    assert fit_command(run, "csv.nc").startswith("# the data file is not found from this folder")


def test_runs_no_command_can_make_say_so():
    spec = bs.load_spec("glm-gaussian")
    ds = bs.load_dataset("teacher-gaussian")
    fitted = bs.fit(spec, ds.X, ds.y, chains=1, draws=5, tune=5, seed=0)
    assert fit_command(fitted).startswith("# fitted from Python on arrays")
    fitted.attrs[COMMAND_ATTR] = "bayesstack demo --out d"
    assert fit_command(fitted) == "bayesstack demo --out d"
