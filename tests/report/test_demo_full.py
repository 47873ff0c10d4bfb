"""The full demo (slow: run with ``pytest -m slow``); its time is measured by `make demo`."""

import json

import pytest


@pytest.mark.slow
def test_full_demo_writes_a_verdict_per_model(tmp_path):
    from bayesstack.demo import MODELS, POLY_NAME, run_demo

    html = run_demo(tmp_path / "demo", progress=False)
    assert html.is_file()
    for name in (*MODELS, POLY_NAME):
        geo = json.loads((tmp_path / "demo" / "runs" / f"{name}.geometry.json").read_text())
        assert geo["verdict"] and abs(sum(geo["chain_weights"]) - 1) < 1e-9
