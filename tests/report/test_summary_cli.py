"""``bayesstack summary`` on a saved run: --var-names, --scale raw, n/a divergences, NaN flags."""

import pytest
from cli_runner import run_cli

import bayesstack as bs


@pytest.fixture(scope="module")
def glm_run(tmp_path_factory):
    ds = bs.load_dataset("engel")
    run = bs.fit(bs.load_spec("glm-gaussian"), ds, chains=2, draws=30, tune=30, seed=1)
    return bs.save(run, tmp_path_factory.mktemp("summary") / "glm.nc")


def test_var_names_unknown_is_one_line_with_the_valid_names(glm_run, capsys):
    code, out, err = run_cli(["summary", glm_run, "--var-names", "W1,W7"], capsys=capsys)
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "error: --var-names: unknown 'W7'; the run has W1, b1, sigma"
    ]


def test_var_names_and_raw_scale(glm_run, capsys):
    code, out, _ = run_cli(
        ["summary", glm_run, "--var-names", "W1", "--scale", "raw"], capsys=capsys
    )
    assert code == 0
    assert "raw scale of the features" in out and "W1" in out and "sigma" not in out


def test_a_run_without_sample_stats_says_na(glm_run, tmp_path, capsys):
    run = bs.load(glm_run)
    del run["sample_stats"]
    path = bs.save(run, tmp_path / "bare.nc")
    code, out, _ = run_cli(["summary", path], capsys=capsys)
    assert code == 0
    assert "divergences: n/a (the run records no sample_stats.diverging)" in out
    assert "divergences: 0" not in out
