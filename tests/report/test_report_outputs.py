"""The quick demo's outputs under io's rules: a rerun may replace them; its runs verify."""

import json

import h5py

import bayesstack as bs
from bayesstack.inference.io import check_folder, check_output_path, is_generated


def test_a_report_bayesstack_wrote_may_be_replaced(quick_demo):
    for name in ("report.html", "report.md"):
        assert is_generated(quick_demo / name), name  # the marker rule knows its own reports
        check_output_path(quick_demo / name, "--out")
    check_folder(quick_demo, "--out")


def test_the_demo_runs_verify_and_pass_check_run(quick_demo):
    paths = sorted((quick_demo / "runs").glob("*.nc"))
    assert len(paths) == 5
    for path in paths:
        bs.load(path)  # checksums of a real fit, and check_run
        with h5py.File(path, "r") as f:
            sums = json.loads(f.attrs["bayesstack_checksums"])["groups"]
        assert {"posterior", "sample_stats", "log_likelihood"} <= set(sums)
        assert "W1" in sums["posterior"]
