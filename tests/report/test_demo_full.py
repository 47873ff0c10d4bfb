"""The full demo, timed (slow: run with ``pytest -m slow``)."""

import time

import pytest


@pytest.mark.slow
def test_full_demo_in_ten_minutes(tmp_path):
    from bayesstack.demo import run_demo

    t0 = time.perf_counter()
    html = run_demo(tmp_path / "demo", progress=False)
    wall = time.perf_counter() - t0
    assert html.is_file()
    assert wall < 12 * 60, f"full demo took {wall:.0f} s"
