"""The CLI: one-line errors with exit code 2 and no output file; a tiny real fit and summary."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_runner import run_cli

ROOT = Path(__file__).parents[1]
TANH = str(ROOT / "models" / "stack1-tanh.toml")


def write_csv(tmp_path, y, X=None, **cols):
    n = len(y)
    X = np.random.default_rng(0).normal(size=(n, 2)) if X is None else X
    df = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y, **cols})
    p = tmp_path / "d.csv"
    df.to_csv(p, index=False)
    return str(p)


def write_spec(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return str(p)


GOOD = 'name = "s"\nfamily = "{family}"\n'


def _bad_cases(tmp_path):
    n = 20
    rng = np.random.default_rng(1)
    y = rng.normal(size=n)
    y_nan = y.copy()
    y_nan[3] = np.nan
    X_inf = rng.normal(size=(n, 2))
    X_inf[5, 1] = np.inf
    counts = rng.poisson(2, n).astype(float)
    neg = counts.copy()
    neg[0] = -1
    frac = counts.copy()
    frac[2] = 1.5
    spec = {
        f: write_spec(tmp_path / f, GOOD.format(family=f))
        for f in ("gaussian", "bernoulli", "poisson", "binomial")
    }
    return [
        # (spec, data csv, target, extra args, words expected in the message)
        (spec["gaussian"], write_csv(tmp_path / "1", y_nan), "y", [], ["y", "row 3"]),
        (spec["gaussian"], write_csv(tmp_path / "2", y, X=X_inf), "y", [], ["b", "row 5"]),
        (spec["bernoulli"], write_csv(tmp_path / "3", counts), "y", [], ["bernoulli", "0"]),
        (spec["poisson"], write_csv(tmp_path / "4", neg), "y", [], ["poisson", "negative"]),
        (spec["poisson"], write_csv(tmp_path / "5", frac), "y", [], ["poisson", "integer"]),
        (
            spec["binomial"],
            write_csv(tmp_path / "6", counts + 5),
            "y",
            ["--trials", "3"],
            ["trials"],
        ),
        (spec["gaussian"], write_csv(tmp_path / "7", y), "z", [], ["'z'", "column"]),
        (
            write_spec(tmp_path, 'name = "s"\nfamily = "gamma"\n'),
            write_csv(tmp_path / "8", y),
            "y",
            [],
            ["family", "gamma"],
        ),
        (
            write_spec(tmp_path / "9", 'name = "s"\nfamily = "poisson"\nlink = "logit"\n'),
            write_csv(tmp_path / "9", counts),
            "y",
            [],
            ["link", "logit"],
        ),
        (
            write_spec(
                tmp_path / "10",
                GOOD.format(family="gaussian") + '[[layers]]\nunits = 0\nactivation = "tanh"\n',
            ),
            write_csv(tmp_path / "10", y),
            "y",
            [],
            ["units"],
        ),
        (
            write_spec(
                tmp_path / "11",
                GOOD.format(family="gaussian") + '[[layers]]\nunits = 2\nactivation = "gelu"\n',
            ),
            write_csv(tmp_path / "11", y),
            "y",
            [],
            ["activation", "gelu"],
        ),
        (
            write_spec(
                tmp_path / "12",
                GOOD.format(family="gaussian") + '[priors]\nweights = { dist = "horseshoe" }\n',
            ),
            write_csv(tmp_path / "12", y),
            "y",
            [],
            ["priors.weights", "horseshoe"],
        ),
        (
            write_spec(tmp_path / "13", 'name = "s"\nfamily = [gaussian\n'),
            write_csv(tmp_path / "13", y),
            "y",
            [],
            ["malformed TOML"],
        ),
    ]


def test_every_bad_input_is_one_line_exit_2_and_no_file(tmp_path, monkeypatch, capsys):
    for i in range(1, 14):
        (tmp_path / str(i)).mkdir()
    for k in ("gaussian", "bernoulli", "poisson", "binomial"):
        (tmp_path / k).mkdir()
    for spec, data, target, extra, words in _bad_cases(tmp_path):
        out = tmp_path / "run.nc"
        code, _stdout, stderr = run_cli(
            ["fit", spec, "--data", data, "--target", target, "--out", str(out), *extra],
            monkeypatch,
            capsys,
        )
        assert code == 2, (words, stderr)
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), stderr
        for w in words:
            assert w in lines[0], (w, lines[0])
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".run.nc")]


def test_output_in_missing_folder(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        ["fit", TANH, "--dataset", "teacher-gaussian", "--out", str(tmp_path / "nope" / "run.nc")],
        monkeypatch,
        capsys,
    )
    assert code == 2 and "--out" in err and "does not exist" in err


def test_unknown_dataset_and_both_sources(tmp_path, monkeypatch, capsys):
    code, _, err = run_cli(
        ["fit", TANH, "--dataset", "iris", "--out", str(tmp_path / "r.nc")], monkeypatch, capsys
    )
    assert code == 2 and "iris" in err and "teacher-gaussian" in err
    code, _, err = run_cli(["fit", TANH, "--out", str(tmp_path / "r.nc")], monkeypatch, capsys)
    assert code == 2 and "--dataset" in err


def test_fit_then_summary_subprocess(tmp_path):
    """End to end as a user runs it: a tiny fit, then the summary table."""
    exe = [sys.executable, "-m", "bayesstack.cli"]
    out = tmp_path / "run.nc"
    r = subprocess.run(
        [
            *exe,
            "fit",
            TANH,
            "--dataset",
            "teacher-gaussian",
            "--out",
            str(out),
            "--chains",
            "2",
            "--draws",
            "60",
            "--tune",
            "60",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert out.exists()
    r = subprocess.run([*exe, "summary", str(out)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "W1[x1, 2]" in r.stdout and "sigma" in r.stdout
    assert "divergences" in r.stdout and "r_hat" in r.stdout
    r = subprocess.run([*exe, "datasets"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "teacher-gaussian" in r.stdout and "anes96" in r.stdout


def test_bench_quick(monkeypatch, capsys):
    code, out, err = run_cli(
        ["bench", "--quick", "--sizes", "a", "--backends", "nutpie"], monkeypatch, capsys
    )
    assert code == 0, err
    assert "| a | nutpie |" in out


def test_bench_passes_its_seed(monkeypatch, capsys):
    from benchmarks import backends as bench

    seen = {}

    def fake(sizes, backends, quick, **kw):
        seen.update(sizes=sizes, backends=backends, **kw)
        return []

    monkeypatch.setattr(bench, "run_benchmarks", fake)
    monkeypatch.setattr(bench, "to_markdown", lambda rows: "table")
    code, out, err = run_cli(
        ["bench", "--sizes", "c", "--backends", "numpyro", "--seed", "2"], monkeypatch, capsys
    )
    assert code == 0, err
    expected = {"sizes": ["c"], "backends": ["numpyro"], "chains": 2, "seed": 2, "repeats": 1}
    assert seen == {**expected, "target_accept": None}
    assert "table" in out
    argv = ["bench", "--sizes", "c", "--backends", "numpyro", "--seed", "2", "--target-accept"]
    code, out, err = run_cli([*argv, "0.9"], monkeypatch, capsys)
    assert code == 0, err
    assert seen == {**expected, "target_accept": 0.9}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--backends", "foo"], ("backends", "'foo'", "hand-numpyro")),
        (["--sizes", "z"], ("sizes", "'z'", "a, b, c, d, e")),
        (["--target-accept", "1.0"], ("target_accept", "(0, 1)")),
        (["--chains", "0"], ("chains", "at least 1")),
    ],
)
def test_bench_bad_options_are_one_line_errors(args, words, monkeypatch, capsys):
    code, _, err = run_cli(["bench", "--quick", *args], monkeypatch, capsys)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert all(w in err for w in words), err
