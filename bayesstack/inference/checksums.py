"""SHA-256 checksums of a run's arrays, per group and variable, and their verification.

The digest of an array is taken over its values in a form that survives the trip through
NetCDF or zarr: shape, then floats as little-endian float64 with every NaN the same, integers
as int64/uint64, booleans as bytes, times as int64 nanoseconds, strings as UTF-8. So a value
changed inside a valid file changes the digest, while the file format's own choices (string
storage, NaN fill values, byte order, float32 kept or widened) do not. Attributes are not
digested; :func:`bayesstack.inference.io.check_run` validates them.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import xarray as xr

#: The run attribute that holds the checksums (JSON).
CHECKSUM_ATTR = "bayesstack_checksums"
ALGORITHM = "sha256"


def array_digest(values: object) -> str:
    """SHA-256 (hex) of an array's values, in the normalised form described above."""
    a = np.asarray(values)
    h = hashlib.sha256(repr(tuple(a.shape)).encode())
    kind = a.dtype.kind
    if kind in "fc":
        a = a.astype("<c16" if kind == "c" else "<f8")
        a = np.where(np.isnan(a), np.nan, a)  # NaN payloads and fill values do not survive
        h.update(np.ascontiguousarray(a).tobytes())
    elif kind in "iu":
        h.update(np.ascontiguousarray(a.astype("<i8" if kind == "i" else "<u8")).tobytes())
    elif kind == "b":
        h.update(np.ascontiguousarray(a.astype("u1")).tobytes())
    elif kind in "Mm":
        unit = "datetime64[ns]" if kind == "M" else "timedelta64[ns]"
        h.update(np.ascontiguousarray(a.astype(unit).view("<i8")).tobytes())
    else:  # strings (fixed width in memory, variable length on disk) and objects
        for x in a.ravel():
            s = x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)
            h.update(s.encode("utf-8", "surrogatepass") + b"\x1f")
    return h.hexdigest()


def _groups(run: xr.DataTree) -> dict[str, xr.Dataset]:
    """Each node's own variables (coordinates too, nothing inherited), by relative path."""
    out = {}
    for node in run.subtree:
        key = "/" if node is run else node.relative_to(run)
        out[key] = node.to_dataset(inherit=False)
    return out


def run_checksums(run: xr.DataTree) -> dict:
    """``{"algorithm": "sha256", "groups": {group: {variable: hex}}}`` of every array of ``run``."""
    groups = {
        key: {str(name): array_digest(var.values) for name, var in ds.variables.items()}
        for key, ds in _groups(run).items()
    }
    return {"algorithm": ALGORITHM, "groups": {k: v for k, v in groups.items() if v}}


def stored_checksums(run: xr.DataTree) -> dict | None:
    """The checksums saved with ``run`` (``None`` for runs saved without them).

    Raises
    ------
    ValueError
        When the attribute is there but is not checksums.
    """
    text = run.attrs.get(CHECKSUM_ATTR)
    if text is None:
        return None
    stored = json.loads(text) if isinstance(text, str) else None
    if (
        not isinstance(stored, dict)
        or stored.get("algorithm") != ALGORITHM
        or not isinstance(stored.get("groups"), dict)
        or not all(
            isinstance(g, dict) and all(isinstance(v, str) for v in g.values())
            for g in stored["groups"].values()
        )
    ):
        raise ValueError("not a checksum table")
    return stored


def mismatches(run: xr.DataTree, stored: dict) -> list[str]:
    """What differs between ``run`` and ``stored`` (from :func:`stored_checksums`).

    One entry per array that changed, is missing or was added: ``group/variable`` and what is
    wrong with it.
    """
    now = run_checksums(run)["groups"]
    then = stored["groups"]
    out = []
    for key in sorted(set(now) | set(then)):
        a, b = now.get(key, {}), then.get(key, {})
        for name in sorted(set(a) | set(b)):
            where = name if key == "/" else f"{key}/{name}"
            if name not in a:
                out.append(f"{where} is missing")
            elif name not in b:
                out.append(f"{where} was added")
            elif a[name] != b[name]:
                out.append(f"{where} does not match its checksum")
    return out
