"""Runs on disk: save and load ArviZ DataTrees atomically and checksummed; validate a run.

Runs are NetCDF (``.nc``) or zarr (``.zarr``); a run records its spec, from which
:func:`model_from_run` rebuilds its PyMC model. Every output location is checked before any
work (:func:`check_output_path`, :func:`check_run_path`); every read run is checked once, the
same way for every command (:func:`check_run`). Output files in general (pre-flight, marker
rule, atomic writes, write errors) live in :mod:`bayesstack.inference.outputs`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
import xarray as xr

from bayesstack.errors import BayesstackError
from bayesstack.inference.checksums import (
    CHECKSUM_ATTR,
    mismatches,
    run_checksums,
    stored_checksums,
)
from bayesstack.inference.outputs import (
    GENERATOR,
    _umask,
    atomic_write,
    check_folder,
    check_replaceable_output,
    folder_of,
    is_generated,
    preflight,
    short_name,
    show,
    temp_beside,
    temp_prefix,
    with_generator,
    write_output,
)
from bayesstack.model.network import param_dims, weight_names
from bayesstack.spec import Spec

__all__ = [
    "CHECKSUM_ATTR",
    "GENERATOR",
    "RUN_SUFFIXES",
    "SPEC_ATTR",
    "atomic_write",
    "check_folder",
    "check_output_path",
    "check_run",
    "check_run_path",
    "is_generated",
    "load",
    "model_from_run",
    "save",
    "short_name",
    "spec_of",
    "verification",
    "with_generator",
    "write_output",
]

#: Suffixes of run files: NetCDF and zarr.
RUN_SUFFIXES = (".nc", ".zarr")
#: The run attribute that holds the model spec (JSON).
SPEC_ATTR = "bayesstack_spec"
#: Groups every run has.
REQUIRED_GROUPS = ("posterior", "constant_data", "observed_data")
#: JSON attributes of a run and the type each must parse to (when present).
JSON_ATTRS = {"feature_names": (list, type(None)), "fit_settings": dict, "feature_map": dict}
_VERIFY: ContextVar[bool] = ContextVar("bayesstack_verify", default=True)


# --- output paths ------------------------------------------------------------------------------
def check_output_path(
    path: str | Path,
    field: str = "output path",
    *,
    ours: Callable[[Path], bool] = is_generated,
) -> Path:
    """Fail, before any work, unless the file ``path`` can be written (one line).

    The folder exists and takes a probe file, the name fits ``NAME_MAX``
    (:func:`bayesstack.inference.outputs.preflight`), ``path`` is not a folder, and a file
    already there was written by bayesstack (the marker rule,
    :func:`bayesstack.inference.outputs.is_generated`). Write such outputs with
    :func:`write_output`, which applies the rule again just before its rename. ``ours``
    recognises bayesstack's own files of a format that cannot carry the marker.
    """
    path = preflight(path, field)
    return check_replaceable_output(path, field, ours=ours)


def check_run_path(path: str | Path, field: str = "output path") -> Path:
    """:func:`check_output_path` for a run: a ``.nc`` or ``.zarr`` path, never other data.

    An existing file or folder is replaced only when it holds a run written by :func:`save`
    (its root attributes carry a bayesstack spec); anything else, a user's NetCDF data or a
    text file named ``.nc`` included, is left alone with a one-line error.
    """
    path = Path(path)
    if path.suffix not in RUN_SUFFIXES:
        got = f"suffix {path.suffix!r}" if path.suffix else "no suffix"
        raise BayesstackError(f"{field}: {show(path)} has {got}; name the run file .nc or .zarr")
    preflight(path, field)
    if path.suffix == ".nc" and path.is_dir():
        raise BayesstackError(f"{field}: {show(path)} is a folder; give a file path")
    _check_replaceable(path, field)
    return path


def _check_replaceable(path: Path, field: str) -> None:
    """Fail unless ``path`` is absent or holds a bayesstack run."""
    if not (path.exists() or path.is_symlink()):
        return
    is_run = _is_run_store(path) if path.suffix == ".zarr" else _is_run_file(path)
    if not is_run:
        raise BayesstackError(
            f"{field}: {show(path)} exists and is not a bayesstack run; remove it or choose "
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


# --- save and load -----------------------------------------------------------------------------
def save(run: xr.DataTree, path: str | Path, field: str = "output path") -> Path:
    """Write ``run`` to ``path`` atomically, with checksums: NetCDF (``.nc``) or zarr (``.zarr``).

    The SHA-256 of every array goes into the attribute ``bayesstack_checksums`` (JSON, per
    group and variable; ``run`` itself is not changed), which :func:`load` verifies. A NetCDF
    run is built in memory and written through :func:`atomic_write`, so HDF5 never writes to
    the disk and a full disk is one line (no crash); a zarr run goes to a temporary folder.
    Either way the data reach a locked temporary file beside ``path`` that is renamed into
    place: a failure (ENOSPC, EROFS, EDQUOT, ...) is one line, leaves an earlier run at
    ``path`` unchanged and no temporary file behind; temporary files that a killed save left
    beside ``path`` are removed. ``field`` names the path in messages (e.g. ``--out``).
    """
    path = check_run_path(path, field)
    out = run.copy(deep=False)
    out.attrs = {**run.attrs, CHECKSUM_ATTR: json.dumps(run_checksums(run))}
    if path.suffix == ".nc":
        data = out.to_netcdf(None, engine="h5netcdf")  # a view into an in-memory file
        try:
            return atomic_write(path, data, field, check=lambda: _check_replaceable(path, field))
        finally:
            data.release()  # before any traceback can keep it alive (a crash in the GC)
    with temp_beside(path, field, folder=True) as (tmp, _):
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700
        out.to_zarr(tmp, mode="w", consolidated=False)
        _check_replaceable(path, field)  # a file may have appeared while we wrote
        _swap_in(tmp, path)
    return path


def _swap_in(tmp: str, path: Path) -> None:
    """Rename the folder ``tmp`` to ``path``, moving an earlier run aside and removing it."""
    if not path.exists():
        os.replace(tmp, path)
        return
    tag = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789_") for _ in range(8))
    aside = folder_of(path) / f"{temp_prefix(path)}{tag}.tmp"  # a stale name if we are killed
    os.rename(path, aside)
    os.rename(tmp, path)
    shutil.rmtree(aside, ignore_errors=True)


@contextmanager
def verification(enabled: bool) -> Iterator[None]:
    """Within this block, :func:`load` verifies checksums only if ``enabled`` (``--no-verify``)."""
    token = _VERIFY.set(enabled)
    try:
        yield
    finally:
        _VERIFY.reset(token)


def load(path: str | Path, *, verify: bool | None = None) -> xr.DataTree:
    """Read a run written by :func:`save` (eagerly, so the file is not held open), and check it.

    Parameters
    ----------
    path : str or Path
        A ``.nc`` or ``.zarr`` run.
    verify : bool, optional
        Verify the checksums saved with the run (default: yes, unless inside
        ``verification(False)``). ``False`` is the escape for recovering what is left of a
        damaged file.

    Returns
    -------
    xarray.DataTree

    Raises
    ------
    BayesstackError
        One line: the file does not exist or cannot be read; an array differs from its
        checksum (naming the group and variable); or the run fails :func:`check_run`.

    Notes
    -----
    Verified: the values (and shape) of every array of every group, coordinates included,
    against the SHA-256 saved with them, and that no array was removed or added. Not verified:
    the attributes (:func:`check_run` checks that they parse and agree with the posterior), and
    runs saved before checksums existed (no ``bayesstack_checksums`` attribute), which load
    with :func:`check_run` only. The returned run has the attributes it had when it was saved
    (the checksum attribute is not kept: :func:`save` computes it anew).
    """
    path = Path(path)
    where = f"run file {show(path)}"
    if not path.exists():
        raise BayesstackError(f"{where}: does not exist")
    try:
        if path.suffix == ".zarr":
            tree = xr.open_datatree(path, engine="zarr", consolidated=False).load()
        else:
            tree = xr.load_datatree(path, engine="h5netcdf")
    except MemoryError:
        raise
    except Exception as e:
        raise BayesstackError(f"{where}: cannot be read ({type(e).__name__})") from None
    if _VERIFY.get() if verify is None else verify:
        verify_checksums(tree, where)
    tree.attrs.pop(CHECKSUM_ATTR, None)  # the run as it was saved; save() makes them anew
    check_run(tree, where)
    return tree


def verify_checksums(run: xr.DataTree, where: str = "run") -> None:
    """Fail (one line naming the group and variable) if an array differs from its checksum.

    A run without the checksum attribute passes: it was saved before checksums existed.
    """
    try:
        stored = stored_checksums(run)
    except ValueError:
        raise BayesstackError(
            f"{where}: its {CHECKSUM_ATTR!r} attribute is damaged; fit again, or read the run "
            "anyway with --no-verify (load(..., verify=False))"
        ) from None
    if stored is None:
        return
    bad = mismatches(run, stored)
    if bad:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise BayesstackError(
            f"{where}: {bad[0]}{more}; the file changed after bayesstack saved it (damaged or "
            "edited); fit again, or read it anyway with --no-verify (load(..., verify=False))"
        )


# --- what a run records ------------------------------------------------------------------------
def spec_of(run: xr.DataTree, where: str = "run") -> Spec:
    """The spec stored in a run's attributes (one line if it is missing or damaged)."""
    if SPEC_ATTR not in run.attrs:
        raise BayesstackError(
            f"{where}: no {SPEC_ATTR!r} attribute; it was not written by bayesstack.fit"
        )
    try:
        return Spec.from_json(run.attrs[SPEC_ATTR])
    except (ValueError, TypeError, AttributeError, KeyError, RecursionError):
        raise BayesstackError(
            f"{where}: its {SPEC_ATTR!r} attribute is not a valid spec; the file is damaged, "
            "fit again"
        ) from None


def check_run(run: xr.DataTree, where: str = "run") -> Spec:
    """Check that ``run`` is a whole, consistent bayesstack run; return its spec.

    :func:`load` and :func:`model_from_run` call it, so every command refuses a damaged or
    foreign run with the same line: the spec attribute parses; the groups ``posterior``,
    ``constant_data`` (``X``) and ``observed_data`` (``y``) are there and agree in size; the
    JSON attributes (``feature_names``, ``fit_settings``, ``feature_map``) parse; the posterior
    (and a ``canonical_posterior``) holds exactly the spec's weights with the spec's shapes,
    all finite, and no variable that is all NaN.

    Raises
    ------
    BayesstackError
        One line saying what is wrong, prefixed by ``where``.
    """
    spec = spec_of(run, where)
    missing = [g for g in REQUIRED_GROUPS if g not in run.children]
    if missing:
        raise BayesstackError(
            f"{where}: no {' or '.join(map(repr, missing))} group; it was not written by "
            "bayesstack.fit, or the file is damaged"
        )
    attrs = _json_attrs(run, where)
    n_features = _check_data(run, where)
    names = attrs.get("feature_names")
    if names is not None and (
        len(names) != n_features or not all(isinstance(n, str) for n in names)
    ):
        raise BayesstackError(
            f"{where}: its 'feature_names' attribute does not name the {n_features} columns of "
            "X; the file is damaged, fit again"
        )
    for group in ("posterior", "canonical_posterior"):
        if group in run.children:
            _check_draws(run[group].to_dataset(), spec, n_features, group, where)
    return spec


def _damaged(where: str, what: str) -> BayesstackError:
    return BayesstackError(f"{where}: {what}; the file is damaged, fit again")


def _json_attrs(run: xr.DataTree, where: str) -> dict:
    out = {}
    for key, types in JSON_ATTRS.items():
        text = run.attrs.get(key)
        if text is None or (key == "feature_map" and text == ""):
            continue
        try:
            value = json.loads(text) if isinstance(text, str) else ...
        except (ValueError, RecursionError):
            value = ...
        if not isinstance(value, types):
            kind = "a list" if key == "feature_names" else "a JSON object"
            raise _damaged(where, f"its {key!r} attribute is not {kind}")
        out[key] = value
    return out


def _check_data(run: xr.DataTree, where: str) -> int:
    """Check X, y (and trials) and return the number of features."""
    cd, od = run["constant_data"], run["observed_data"]
    if "X" not in cd or "y" not in od:
        raise _damaged(where, "no 'X' in constant_data or no 'y' in observed_data")
    X, y = cd["X"], od["y"]
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise _damaged(where, f"X has shape {X.shape} and y {y.shape}; they do not fit together")
    trials = cd["trials"] if "trials" in cd else None
    if trials is not None and trials.shape != y.shape:
        raise _damaged(where, f"trials have shape {trials.shape} where y has {y.shape}")
    for name, arr in (("X", X), ("y", y), ("trials", trials)):
        if arr is not None and arr.dtype.kind in "iuf" and not np.isfinite(arr.values).all():
            raise _damaged(where, f"{name} holds NaN or infinite values")
    return int(X.shape[1])


def _check_draws(ds: xr.Dataset, spec: Spec, n_features: int, group: str, where: str) -> None:
    """The group holds exactly the spec's weights, with its shapes, finite; nothing all NaN."""
    from bayesstack.model.network import hidden_dim, param_shapes

    names, dims = weight_names(spec), param_dims(spec)
    shapes = param_shapes(spec, n_features)
    missing = [k for k in names if k not in ds]
    extra = [str(k) for k in ds.data_vars if re.fullmatch(r"[Wb]\d+", str(k)) and k not in dims]
    if missing or extra:
        what = f"lacks {', '.join(missing)}" if missing else f"has {', '.join(extra)}"
        raise _damaged(
            where,
            f"the {group} {what} where its spec {spec.name!r} has {', '.join(names)}: they "
            "describe different models",
        )
    for i, layer in enumerate(spec.layers, 1):
        n = ds.sizes.get(hidden_dim(i), layer.units)
        if n != layer.units:
            raise _damaged(
                where, f"the {group} has {n} units in hidden{i} where its spec has {layer.units}"
            )
    for k in names:
        v = ds[k]
        if v.dims != ("chain", "draw", *dims[k]) or v.shape[2:] != shapes[k]:
            raise _damaged(
                where,
                f"{group} {k} has dims {v.dims} and shape {v.shape} where its spec gives "
                f"(chain, draw, {', '.join(dims[k])}) and {shapes[k]} per draw",
            )
    for k, v in ds.data_vars.items():
        if v.dtype.kind != "f" or v.size == 0:
            continue
        finite = np.isfinite(v.values)
        if not finite.any():
            raise _damaged(where, f"{group} {k} is all NaN or infinite")
        if k in dims and not finite.all():
            bad = int(finite.size - finite.sum())
            raise _damaged(where, f"{group} {k} has {bad} NaN or infinite values of {v.size}")


def weight_draws(ds: xr.Dataset, spec: Spec) -> dict[str, np.ndarray]:
    """The weights ``W*``/``b*`` of a posterior dataset as arrays ``(chain, draw, ...)``.

    Raises
    ------
    BayesstackError
        When the dataset lacks a weight of ``spec``.
    """
    dims = param_dims(spec)
    missing = [k for k in weight_names(spec) if k not in ds]
    if missing:
        raise BayesstackError(f"run: posterior lacks the weights {', '.join(missing)}")
    for i, layer in enumerate(spec.layers, 1):
        n = ds.sizes.get(f"hidden{i}", layer.units)
        if n != layer.units:
            raise BayesstackError(
                f"run: the posterior has {n} units in hidden{i} where its spec has "
                f"{layer.units}; the file is damaged, fit again"
            )
    return {k: ds[k].transpose("chain", "draw", *dims[k]).values for k in weight_names(spec)}


def sampler_log_density(run: xr.DataTree) -> np.ndarray | None:
    """The sampler's log density of every draw, ``(chain, draw)``, or None when not stored.

    The unconstrained log density with the Jacobian, as the sampler saw it: ``sample_stats``
    ``lp`` (numpyro, PyMC, blackjax) or ``logp`` (nutpie).
    """
    if "sample_stats" not in run.children:
        return None
    stats = run["sample_stats"]
    key = next((k for k in ("logp", "lp") if k in stats), None)
    return None if key is None else stats[key].transpose("chain", "draw").values


def model_from_run(run: xr.DataTree, **kw):
    """Rebuild a run's PyMC model from its spec and stored data.

    Parameters
    ----------
    run : xarray.DataTree
        A run written by :func:`bayesstack.fit` (its ``constant_data`` and ``observed_data``);
        it must pass :func:`check_run`.
    **kw
        Passed to :func:`bayesstack.model.builder.build_model` (e.g. ``store_eta=True``).

    Returns
    -------
    pymc.Model
    """
    from bayesstack.model.builder import build_model

    spec = check_run(run)
    cd, od = run["constant_data"], run["observed_data"]
    trials = cd["trials"].values if "trials" in cd else None
    names = json.loads(run.attrs.get("feature_names", "null"))
    return build_model(
        spec, cd["X"].values, od["y"].values, trials=trials, feature_names=names, **kw
    )
