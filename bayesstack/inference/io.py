"""Runs on disk: save and load ArviZ DataTrees atomically, and read what a run records.

Runs are NetCDF (``.nc``) or zarr (``.zarr``); a run records its spec, from which
:func:`model_from_run` rebuilds its PyMC model.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import xarray as xr

from bayesstack.errors import BayesstackError
from bayesstack.spec import Spec

#: Suffixes of run files: NetCDF and zarr.
RUN_SUFFIXES = (".nc", ".zarr")
#: The run attribute that holds the model spec (JSON).
SPEC_ATTR = "bayesstack_spec"


def _check_folder(path: Path, field: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BayesstackError(
            f"{field}: folder {str(parent)!r} does not exist; create it or choose another path"
        )


def check_output_path(path: str | Path, field: str = "output path") -> Path:
    """Fail early, before any work, if the file ``path`` cannot be written."""
    path = Path(path)
    _check_folder(path, field)
    if path.is_dir():
        raise BayesstackError(f"{field}: {str(path)!r} is a folder; give a file path")
    return path


def check_run_path(path: str | Path, field: str = "output path") -> Path:
    """:func:`check_output_path` for a run: a ``.nc`` or ``.zarr`` path, never other data.

    An existing file or folder is replaced only when it holds a run written by :func:`save`
    (its root attributes carry a bayesstack spec); anything else, a user's NetCDF data or a
    text file named ``.nc`` included, is left alone with a one-line error.
    """
    path = Path(path)
    if path.suffix not in RUN_SUFFIXES:
        got = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise BayesstackError(f"{field}: {str(path)!r} has {got}; name the run file .nc or .zarr")
    if path.suffix == ".nc":
        check_output_path(path, field)
    else:
        _check_folder(path, field)
    _check_replaceable(path, field)
    return path


def _check_replaceable(path: Path, field: str) -> None:
    """Fail unless ``path`` is absent or holds a bayesstack run."""
    if not (path.exists() or path.is_symlink()):
        return
    is_run = _is_run_store(path) if path.suffix == ".zarr" else _is_run_file(path)
    if not is_run:
        raise BayesstackError(
            f"{field}: {str(path)!r} exists and is not a bayesstack run; remove it or choose "
            "another path"
        )


def _is_run_file(path: Path) -> bool:
    """Whether ``path`` is a NetCDF (HDF5) file whose root attributes carry a bayesstack spec."""
    import h5py

    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as f:
            return SPEC_ATTR in f.attrs
    except (OSError, ValueError):  # not HDF5: text, CSV, NetCDF3, ...
        return False


def _is_run_store(path: Path) -> bool:
    """Whether ``path`` is a zarr folder whose root carries a bayesstack spec."""
    for meta, key in (("zarr.json", "attributes"), (".zattrs", None)):
        try:
            d = json.loads((path / meta).read_text())
        except (OSError, ValueError):
            continue
        if isinstance(d, dict) and SPEC_ATTR in (d.get(key, {}) if key else d):
            return True
    return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are for sharing
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(run: xr.DataTree, path: str | Path) -> Path:
    """Write ``run`` to ``path`` atomically: NetCDF (``.nc``) or zarr (``.zarr``).

    The data go to a temporary file beside ``path`` that is renamed into place, so a failure
    never leaves a half-written file.
    """
    path = check_run_path(path)
    zarr = path.suffix == ".zarr"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        if zarr:
            os.remove(tmp)
            run.to_zarr(tmp, mode="w", consolidated=False)
        else:
            run.to_netcdf(tmp, engine="h5netcdf")
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        _check_replaceable(path, "output path")  # a file may have appeared while we wrote
        if zarr and path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True) if os.path.isdir(tmp) else Path(tmp).unlink(
            missing_ok=True
        )
        raise
    return path


def load(path: str | Path) -> xr.DataTree:
    """Read a run written by :func:`save` (eagerly, so the file is not held open)."""
    path = Path(path)
    if not path.exists():
        raise BayesstackError(f"run file {str(path)!r}: does not exist")
    try:
        if path.suffix == ".zarr":
            tree = xr.open_datatree(path, engine="zarr", consolidated=False)
            return tree.load()
        return xr.load_datatree(path, engine="h5netcdf")
    except Exception as e:
        raise BayesstackError(
            f"run file {str(path)!r}: cannot be read ({type(e).__name__})"
        ) from None


def spec_of(run: xr.DataTree) -> Spec:
    """The spec stored in a run's attributes."""
    if SPEC_ATTR not in run.attrs:
        raise BayesstackError(
            f"run: no {SPEC_ATTR!r} attribute; it was not written by bayesstack.fit"
        )
    try:
        return Spec.from_json(run.attrs[SPEC_ATTR])
    except ValueError:  # JSON, or a spec the JSON does not describe
        raise BayesstackError(
            f"run: its {SPEC_ATTR!r} attribute is not a valid spec; the file is damaged, fit again"
        ) from None


def model_from_run(run: xr.DataTree, **kw):
    """Rebuild a run's PyMC model from its spec and stored data.

    Parameters
    ----------
    run : xarray.DataTree
        A run written by :func:`bayesstack.fit` (its ``constant_data`` and ``observed_data``).
    **kw
        Passed to :func:`bayesstack.model.builder.build_model` (e.g. ``store_eta=True``).

    Returns
    -------
    pymc.Model
    """
    from bayesstack.model.builder import build_model

    missing = [g for g in ("constant_data", "observed_data") if g not in run.children]
    if missing:
        raise BayesstackError(
            f"run: no {' or '.join(map(repr, missing))} group; it was not written by "
            "bayesstack.fit, or the file is damaged"
        )
    cd, od = run["constant_data"], run["observed_data"]
    trials = cd["trials"].values if "trials" in cd else None
    names = json.loads(run.attrs.get("feature_names", "null"))
    return build_model(
        spec_of(run), cd["X"].values, od["y"].values, trials=trials, feature_names=names, **kw
    )
