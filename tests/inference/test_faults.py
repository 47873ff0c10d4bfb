"""Faults that must never damage: kill -9 during a save, read-only folders, full disks,
tampered runs and damaged or foreign runs. Each gives one line (exit code 2) or leaves the
earlier run intact; none leaves a temporary file behind once the next save has run.
"""

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
import xarray as xr

import bayesstack as bs
from bayesstack.cli import main
from bayesstack.errors import BayesstackError
from bayesstack.spec import Layer, Spec
from bayesstack.testing import run_from_draws

TANH2 = Spec(name="tanh2", family="gaussian", layers=(Layer(2, "tanh"),))


def small_run(seed=0, extra=0):
    """A run without MCMC or PyMC (2 chains x 20 draws); ``extra`` adds a large variable."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(15, 1))
    y = rng.normal(size=15)
    point = {"W1": [[1.0, -1.0]], "b1": [0.2, -0.3], "W2": [1.5, -0.5], "b2": 0.1}
    draws = {
        k: np.asarray(v) + 0.05 * rng.normal(size=(2, 20, *np.shape(v))) for k, v in point.items()
    }
    draws["sigma"] = 0.3 * np.exp(0.05 * rng.normal(size=(2, 20)))
    run = run_from_draws(TANH2, X, y, draws, logp=rng.normal(size=(2, 20)), log_likelihood=False)
    stats = run["sample_stats"].to_dataset()
    stats["diverging"] = (("chain", "draw"), np.zeros((2, 20), dtype=bool))
    run["sample_stats"] = stats
    if extra:
        post = run["posterior"].to_dataset()
        post["extra"] = (("chain", "draw", "k"), rng.normal(size=(2, 20, extra)))
        run["posterior"] = post
    return run


def temps(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def same_draws(a, b):
    return np.array_equal(a["posterior"]["W1"].values, b["posterior"]["W1"].values)


def cli(args, capsys):
    code = main([str(a) for a in args])
    cap = capsys.readouterr()
    assert code == 2, cap.err
    assert cap.err.startswith("error: ") and cap.err.count("\n") == 1, cap.err
    return cap.err


# --- kill -9 during a save ---------------------------------------------------------------------
KILLED = """
import os, sys, time
sys.path.insert(0, {tests!r})
from test_faults import small_run
import bayesstack as bs

target, hook = sys.argv[1], sys.argv[2]
real = {{"replace": os.replace, "rename": os.rename, "write": os.write}}


def pause():
    print("ready", flush=True)
    time.sleep(600)


def renaming(name):
    def hooked(src, dst, *a, **k):
        src, dst = os.fspath(src), os.fspath(dst)
        if hook == "rename" and target in (src, dst):
            pause()  # the data are written, the rename is next
        if hook == "zarr-write" and src.endswith(".partial") and "/posterior/" in src:
            pause()  # inside to_zarr: some chunks written, others not
        return real[name](src, dst, *a, **k)
    return hooked


def write(fd, data):
    if hook == "nc-write" and len(data) > 1000:
        real["write"](fd, bytes(memoryview(data)[: len(data) // 2]))
        pause()  # half the file written
    return real["write"](fd, data)


os.replace, os.rename, os.write = renaming("replace"), renaming("rename"), write
bs.save(small_run(1), target)
print("saved", flush=True)
"""


@pytest.mark.parametrize(
    ("suffix", "hook"),
    [(".nc", "rename"), (".nc", "nc-write"), (".zarr", "rename"), (".zarr", "zarr-write")],
)
def test_kill_9_during_save_keeps_the_old_run_and_the_next_save_cleans_up(tmp_path, suffix, hook):
    path = tmp_path / f"run{suffix}"
    bs.save(small_run(0), path)
    script = KILLED.format(tests=os.path.dirname(__file__))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(path), hook],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 180)  # the hook is reached, or not
        line = proc.stdout.readline() if ready else "(timed out)"
        assert line == "ready\n", (line, proc.stderr.read()[-2000:] if proc.poll() else "")
    finally:
        proc.kill()  # SIGKILL: no cleanup of any kind runs
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -9
    assert temps(tmp_path), "the hook should leave the killed save's temporary file"
    assert same_draws(bs.load(path), small_run(0))  # the earlier run, intact and verified
    bs.save(small_run(2), path)
    assert temps(tmp_path) == []
    assert same_draws(bs.load(path), small_run(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


# --- read-only folders -------------------------------------------------------------------------
@contextlib.contextmanager
def read_only_folder(tmp_path):
    """A folder nobody can write: a read-only bind mount as root, else ``chmod 555``."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    mount = ["mount", "--bind", str(folder), str(folder)]
    remount = ["mount", "-o", "remount,bind,ro", str(folder)]
    if shutil.which("mount") is None or subprocess.run(mount, capture_output=True).returncode:
        pytest.skip("root, but cannot bind-mount a read-only folder here")
    try:
        if subprocess.run(remount, capture_output=True).returncode:
            pytest.skip("root, but cannot remount a folder read-only here")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def test_a_read_only_folder_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bs, "fit", lambda *a, **k: pytest.fail("fitted before checking --out"))
    monkeypatch.setattr(bs, "load_spec", lambda *a, **k: pytest.fail("read the spec first"))
    with read_only_folder(tmp_path) as ro:
        for name in ("r.nc", "r.zarr"):
            msg = cli(
                ["fit", "glm-gaussian", "--dataset", "teacher-gaussian", "--out", ro / name], capsys
            )
            assert "--out: cannot write in folder" in msg
            assert ("read-only (EROFS)" if os.geteuid() == 0 else "permission denied") in msg
        run = bs.save(small_run(), tmp_path / "a.nc")
        for opt in ("--json", "--save-canonical"):
            msg = cli(
                ["geometry", run, opt, ro / "g.json" if opt == "--json" else ro / "c.nc"], capsys
            )
            assert f"{opt}: cannot write in folder" in msg
        assert "cannot write in folder" in cli(["compare", run, "--out", ro / "rep.html"], capsys)
        assert "cannot write in folder" in cli(["demo", "--out", ro / "demo"], capsys)
        assert "cannot write in folder" in cli(["demo", "--out", ro], capsys)
        with pytest.raises(BayesstackError, match="cannot write in folder"):
            bs.save(small_run(), ro / "r.nc")
        assert list(ro.iterdir()) == []


# --- full disks ---------------------------------------------------------------------------------
@contextlib.contextmanager
def small_disk(tmp_path, size="256k"):
    """A tmpfs of ``size`` (root only)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a small tmpfs needs root; ENOSPC is also tested by monkeypatching")
    cmd = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)]
    if subprocess.run(cmd, capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


FULL = """
import sys
sys.path.insert(0, {tests!r})
from test_faults import small_run
import bayesstack as bs
from bayesstack.errors import BayesstackError

try:
    bs.save(small_run(1, extra=5000), sys.argv[1])
except BayesstackError as e:
    print(f"error: {{e}}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_a_full_disk_is_one_line_never_a_crash(tmp_path, suffix):
    with small_disk(tmp_path) as disk:
        path = disk / f"run{suffix}"
        bs.save(small_run(0), path)
        script = FULL.format(tests=os.path.dirname(__file__))
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300
        )
        assert out.returncode == 2, out.stderr[-3000:]  # not 139 (segfault) nor 1 (traceback)
        assert out.stderr.count("\n") == 1
        assert "no space left on the device (ENOSPC); nothing was written" in out.stderr
        assert temps(disk) == []
        assert same_draws(bs.load(path), small_run(0))


def test_enospc_inside_the_netcdf_writer_is_one_line(tmp_path, monkeypatch):
    path = bs.save(small_run(0), tmp_path / "run.nc")
    real = os.write

    def full(fd, data):
        if len(data) > 100:  # the run's bytes, not a probe
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(BayesstackError, match=r"writing '.*run.nc' failed: no space left"):
        bs.save(small_run(1), path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]
    assert same_draws(bs.load(path), small_run(0))


# --- tampered runs ------------------------------------------------------------------------------
def tamper_nc(path, var="posterior/W1"):
    with h5py.File(path, "r+") as f:
        at = (0,) * f[var].ndim
        f[var][at] = f[var][at] + 1e-9


def test_a_tampered_run_is_refused_naming_group_and_variable(tmp_path, capsys):
    path = bs.save(small_run(), tmp_path / "run.nc")
    tamper_nc(path)
    with pytest.raises(BayesstackError, match="posterior/W1 does not match its checksum"):
        bs.load(path)
    for cmd in (["summary", path], ["geometry", path], ["compare", path, path]):
        msg = cli(cmd, capsys)
        assert "posterior/W1 does not match its checksum" in msg and "--no-verify" in msg
    run = bs.load(path, verify=False)  # recovery
    assert not same_draws(run, small_run())
    assert main(["summary", str(path), "--no-verify"]) == 0
    capsys.readouterr()


def test_a_tampered_zarr_run_is_refused(tmp_path):
    zarr = pytest.importorskip("zarr")
    path = bs.save(small_run(), tmp_path / "run.zarr")
    arr = zarr.open_array(path / "observed_data" / "y", mode="r+")
    arr[3] = arr[3] * 2
    with pytest.raises(BayesstackError, match="observed_data/y does not match its checksum"):
        bs.load(path)


def test_runs_without_checksums_still_load_and_damaged_checksums_are_one_line(tmp_path):
    path = bs.save(small_run(), tmp_path / "old.nc")
    with h5py.File(path, "r+") as f:  # as saved before checksums existed
        del f.attrs["bayesstack_checksums"]
    assert same_draws(bs.load(path), small_run())
    with h5py.File(path, "r+") as f:
        f.attrs["bayesstack_checksums"] = "nope"
    with pytest.raises(BayesstackError, match="'bayesstack_checksums' attribute is damaged"):
        bs.load(path)
    assert same_draws(bs.load(path, verify=False), small_run())


def test_checksums_survive_every_round_trip(tmp_path):
    run = small_run()
    for suffix in (".nc", ".zarr"):
        back = bs.load(bs.save(run, tmp_path / f"a{suffix}"))
        again = bs.load(bs.save(back, tmp_path / f"b{suffix}"))  # a loaded run saved again
        assert same_draws(again, run) and again.attrs == run.attrs
        kw = (
            {"engine": "h5netcdf"} if suffix == ".nc" else {"engine": "zarr", "consolidated": False}
        )
        raw = xr.open_datatree(tmp_path / f"b{suffix}", **kw)  # the file itself has them
        assert json.loads(raw.attrs["bayesstack_checksums"])["groups"]["posterior"]["W1"]
    assert "bayesstack_checksums" not in run.attrs  # save does not change its argument


# --- damaged attributes and foreign runs --------------------------------------------------------
def relabel(run, **attrs):
    run.attrs.update(attrs)
    return run


def other_spec(**kw):
    return relabel(
        small_run(), bayesstack_spec=Spec(**{"name": "other", "family": "gaussian", **kw}).to_json()
    )


DAMAGED = {
    "feature_names": (
        lambda: relabel(small_run(), feature_names="[[[["),
        "'feature_names' attribute is not a list",
    ),
    "fit_settings": (
        lambda: relabel(small_run(), fit_settings="nope"),
        "'fit_settings' attribute is not a JSON object",
    ),
    "spec_list": (
        lambda: relabel(small_run(), bayesstack_spec="[]"),
        "'bayesstack_spec' attribute is not a valid spec",
    ),
    "weights_missing": (
        lambda: other_spec(layers=(Layer(2, "tanh"), Layer(2, "tanh"))),
        "lacks W3",
    ),
    "weights_extra": (
        lambda: other_spec(layers=()),
        "has W2, b2 where its spec 'other' has W1, b1",
    ),
    "feature_names_count": (
        lambda: relabel(small_run(), feature_names='["a", "b"]'),
        "does not name the 1 columns",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
def test_damaged_attributes_and_foreign_runs_are_one_line(tmp_path, capsys, case):
    make, words = DAMAGED[case]
    path = bs.save(make(), tmp_path / "run.nc")
    assert words in cli(["summary", path], capsys)
    assert words in cli(["geometry", path], capsys)
    with pytest.raises(BayesstackError, match="the file is damaged"):
        bs.model_from_run(make())


def test_a_posterior_with_the_wrong_shape_is_one_line(tmp_path, capsys):
    run = small_run()
    cd = run["constant_data"].to_dataset()
    X2 = np.hstack([cd["X"].values, cd["X"].values])  # two features where W1 has one
    run["constant_data"] = cd.drop_vars(["X", "feature"]).assign(X=(("obs", "feature"), X2))
    run.attrs["feature_names"] = '["x0", "x1"]'
    path = bs.save(run, tmp_path / "run.nc")
    msg = cli(["summary", path], capsys)
    assert "posterior W1 has dims" in msg and "(2, 2) per draw" in msg


def test_an_all_nan_weight_is_one_line(tmp_path, capsys):
    run = small_run()
    post = run["posterior"].to_dataset()
    post["W1"] = post["W1"] * np.nan
    run["posterior"] = post
    path = bs.save(run, tmp_path / "nan.nc")
    assert "posterior W1 is all NaN or infinite" in cli(["geometry", path], capsys)
    assert "posterior W1 is all NaN" in cli(["summary", path], capsys)


def test_a_damaged_feature_map_is_one_line(tmp_path):
    run = relabel(small_run(), feature_map="{")
    path = bs.save(run, tmp_path / "fm.nc")
    with pytest.raises(BayesstackError, match="'feature_map' attribute is not a JSON object"):
        bs.load(path)
    assert json.loads(bs.load(bs.save(small_run(), tmp_path / "ok.nc")).attrs["feature_names"])
