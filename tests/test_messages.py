"""Messages that point the right way: a spec path outside a clone, a run without a spec."""

import numpy as np
import pytest
import xarray as xr

from bayesstack.errors import BayesstackError
from bayesstack.spec import SpecError, load_spec


def test_a_models_path_outside_a_clone_names_the_builtin_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no models/ folder here
    with pytest.raises(SpecError) as e:
        load_spec("models/stack1-tanh.toml")
    msg = str(e.value)
    assert "\n" not in msg and "does not exist" in msg
    assert "'stack1-tanh' is a built-in spec: load it by name, load_spec('stack1-tanh')" in msg
    assert load_spec("stack1-tanh").name == "stack1-tanh"  # what it says works
    with pytest.raises(SpecError, match=r"does not exist; give a \.toml file or a built-in"):
        load_spec("models/no-such-spec.toml")


def test_analyze_on_a_plain_pymc_run_names_attach_spec():
    from bayesstack.geometry import analyze

    post = xr.Dataset({"W1": (("chain", "draw", "feature"), np.zeros((2, 3, 1)))})
    data = xr.Dataset({"X": (("obs", "feature"), np.zeros((3, 1)))})
    run = xr.DataTree.from_dict({"posterior": post, "constant_data": data})
    with pytest.raises(BayesstackError, match=r"bs\.attach_spec\(idata, spec, X, y\)") as e:
        analyze(run)
    assert "\n" not in str(e.value)
