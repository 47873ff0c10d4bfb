import json
import warnings
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quick_demo_run(tmp_path_factory) -> tuple[Path, list[warnings.WarningMessage]]:
    """The quick demo, run once: its folder and every warning it emitted."""
    from bayesstack.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "quick"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        html = run_demo(out, quick=True, progress=False)
    assert html == out / "report.html"
    return out, caught


@pytest.fixture(scope="session")
def quick_demo(quick_demo_run) -> Path:
    """The quick demo's folder (runs/, report.html, report.md, report_files/)."""
    return quick_demo_run[0]


@pytest.fixture(scope="session")
def demo_runs(quick_demo):
    """The quick demo's run files and their saved geometry, keyed by model name."""
    paths = {p.stem: p for p in sorted((quick_demo / "runs").glob("*.nc"))}
    geometry = {}
    for n in paths:
        geo = json.loads((quick_demo / "runs" / f"{n}.geometry.json").read_text())
        assert geo.pop("generator").startswith("bayesstack ")  # the marker: a rerun replaces it
        geometry[n] = geo
    return paths, geometry
