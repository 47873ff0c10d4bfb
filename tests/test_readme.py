"""The README's Predict section runs verbatim: its Python block, then its shell block."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str) -> dict[str, str]:
    text = README.read_text()
    body = text.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"```(python|bash)\n(.*?)```", body, flags=re.S))


def test_predict_section_runs_verbatim(tmp_path):
    blocks = _blocks("Predict")
    assert set(blocks) == {"python", "bash"}
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    py = subprocess.run(
        [sys.executable, "-c", blocks["python"]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
    )
    assert py.returncode == 0, py.stderr[-2000:]
    assert "mean" in py.stdout and "W1[x1]" in py.stdout
    sh = subprocess.run(
        ["bash", "-e", "-c", blocks["bash"]], cwd=tmp_path, capture_output=True, text=True, env=env
    )
    assert sh.returncode == 0, sh.stderr[-2000:]
    assert sh.stdout.splitlines()[0] == "obs,mean,sd,lower,upper"
    pred = pd.read_csv(tmp_path / "pred.csv")
    assert len(pred) == 50 and (pred["lower"] < pred["mean"]).all()
