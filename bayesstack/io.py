"""Save and load runs (ArviZ DataTrees) atomically, as NetCDF or zarr."""

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

    An existing ``.zarr`` folder is replaced only when it holds a run written by :func:`save`.
    """
    path = Path(path)
    if path.suffix not in RUN_SUFFIXES:
        got = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise BayesstackError(f"{field}: {str(path)!r} has {got}; name the run file .nc or .zarr")
    if path.suffix == ".nc":
        return check_output_path(path, field)
    _check_folder(path, field)
    if path.exists() and not _is_run_store(path):
        raise BayesstackError(
            f"{field}: {str(path)!r} exists and is not a bayesstack run; remove it or choose "
            "another path"
        )
    return path


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
            if path.exists():
                shutil.rmtree(path)
        else:
            run.to_netcdf(tmp, engine="h5netcdf")
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
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
