import json
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def quick_demo(tmp_path_factory) -> Path:
    """The quick demo, run once: its folder (runs/, report.html, report.md, report_files/)."""
    from bayesstack.demo import run_demo

    out = tmp_path_factory.mktemp("demo") / "quick"
    html = run_demo(out, quick=True, progress=False)
    assert html == out / "report.html"
    return out


@pytest.fixture(scope="session")
def demo_runs(quick_demo):
    """The quick demo's run files and their saved geometry, keyed by model name."""
    paths = {p.stem: p for p in sorted((quick_demo / "runs").glob("*.nc"))}
    geometry = {
        n: json.loads((quick_demo / "runs" / f"{n}.geometry.json").read_text()) for n in paths
    }
    return paths, geometry
