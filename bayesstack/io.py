"""Save and load runs (ArviZ DataTrees) atomically, as NetCDF or zarr."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import xarray as xr

from bayesstack.errors import BayesstackError


def check_output_path(path: str | Path, field: str = "output path") -> Path:
    """Fail early, before any work, if ``path`` cannot be written."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise BayesstackError(
            f"{field}: folder {str(parent)!r} does not exist; create it or choose another path"
        )
    return path


def save(run: xr.DataTree, path: str | Path) -> Path:
    """Write ``run`` to ``path`` atomically: NetCDF (``.nc``) or zarr (``.zarr``).

    The data go to a temporary file beside ``path`` that is renamed into place, so a failure
    never leaves a half-written file.
    """
    path = check_output_path(path)
    zarr = path.suffix == ".zarr"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        if zarr:
            os.remove(tmp)
            run.to_zarr(tmp, mode="w", consolidated=False)
            if path.exists():
                shutil.rmtree(path)
        else:
            run.to_netcdf(tmp, engine="h5netcdf")
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
