"""Output files: checked before any work, written atomically, failures as one line.

Every file bayesstack writes goes through here, so that bad output locations give one
:class:`BayesstackError` line, before any work, and nothing is ever half-written or replaced
by mistake:

* :func:`preflight` checks, before any work, that the folder exists, that the name fits the
  file system (``NAME_MAX``) and that a probe file can be created, written and removed there (a
  read-only folder or file system, a full disk, a missing permission).
* :func:`check_replaceable_output` refuses to replace a file that bayesstack did not write:
  the **marker rule** (see :func:`is_generated`).
* :func:`atomic_write` writes through a locked temporary file beside the target and a rename; a
  failure (ENOSPC, EROFS, EDQUOT, ...) removes the temporary file and becomes one line.
* :func:`remove_stale_temps` removes the temporary files that a killed writer left beside the
  same target; the next write to that target calls it.
* :func:`short_name` shortens a generated name to fit ``NAME_MAX`` and adds a short hash.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from bayesstack._version import __version__
from bayesstack.errors import BayesstackError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no locks, so no stale-file removal
    fcntl = None

#: What bayesstack writes into the files it generates (see :func:`is_generated`).
GENERATOR = f"bayesstack {__version__}"
#: ``NAME_MAX`` where the file system does not say.
DEFAULT_NAME_MAX = 255
#: Bytes that a temporary name adds to its target's: ``.`` + name + ``.`` + 8 random + ``.tmp``.
TMP_EXTRA = 14
#: How much of an existing file :func:`is_generated` reads.
MARKER_SCAN = 1 << 20
_MARKER = re.compile(
    rb"generator\W{0,16}(?:content=\W{0,2})?bayesstack"  # JSON, HTML meta, comments, PNG text
    rb"|Generated [^\n<]{0,80} by bayesstack from"  # reports' provenance line
)
#: What an OSError's errno means for an output, in words.
_REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EFBIG: "the file is too large for this file system",
    errno.ENAMETOOLONG: "the name is too long for this file system",
}


def show(path: str | Path, limit: int = 80) -> str:
    """``repr`` of a path for a message, shortened in the middle past ``limit`` characters."""
    text = str(path)
    if len(text) > limit:
        text = f"{text[: limit // 2]}...{text[-(limit // 2) :]}"
    return repr(text)


def folder_of(path: Path) -> Path:
    """The folder that holds ``path`` (``.`` for a bare name)."""
    return path.parent if str(path.parent) else Path(".")


def name_max(folder: str | Path) -> int:
    """The longest file name (in bytes) the file system of ``folder`` takes."""
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return DEFAULT_NAME_MAX


def short_name(name: str, limit: int = DEFAULT_NAME_MAX, *, suffix: str | None = None) -> str:
    """``name`` if it fits ``limit`` bytes, else shortened and given a short hash.

    For names that bayesstack makes up (report slugs, temporary names): the stem is cut at a
    character boundary and ``-`` plus 8 hex digits of the SHA-256 of the whole name is added
    before the suffix, so distinct long names stay distinct.

    Parameters
    ----------
    name : str
        The name (no folder).
    limit : int
        Most bytes (file-system encoding) of the result; see :func:`name_max`.
    suffix : str, optional
        Kept at the end (default: the name's extension, e.g. ``.png``).

    Returns
    -------
    str
        At most ``limit`` bytes long.
    """
    raw = os.fsencode(name)
    if len(raw) <= limit:
        return name
    if suffix is None:
        suffix = Path(name).suffix if len(os.fsencode(Path(name).suffix)) <= 16 else ""
    stem = name[: len(name) - len(suffix)] if suffix and name.endswith(suffix) else name
    tag = "-" + hashlib.sha256(raw).hexdigest()[:8]
    room = limit - len(os.fsencode(suffix)) - len(tag)
    if room < 1:
        raise ValueError(f"short_name: limit {limit} leaves no room for a name")
    kept, used = [], 0
    for ch in stem:
        n = len(os.fsencode(ch))
        if used + n > room:
            break
        kept.append(ch)
        used += n
    return "".join(kept) + tag + suffix


# --- errors ------------------------------------------------------------------------------------
def find_os_error(exc: BaseException) -> OSError | None:
    """The OSError behind ``exc`` (itself, its cause or context, or one of a group's)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno is not None:
            return e
        todo += [e.__cause__, e.__context__, *getattr(e, "exceptions", ())]
    return None


def write_error(exc: OSError, path: str | Path, field: str) -> BayesstackError:
    """One line for an OSError met while writing ``path``: what failed, and that nothing did."""
    code = errno.errorcode.get(exc.errno or 0, "")
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()
    return BayesstackError(
        f"{field}: writing {show(path)} failed: {reason}{f' ({code})' if code else ''}; "
        "nothing was written and any earlier file there is unchanged"
    )


# --- pre-flight --------------------------------------------------------------------------------
def preflight(path: str | Path, field: str = "output path") -> Path:
    """Fail, before any work, unless a file ``path`` can be created where it is to go.

    Checks that its folder exists, that its name fits the file system (``NAME_MAX``) and that a
    probe file can be created, written (one byte) and removed in the folder: a read-only
    folder, a read-only file system (root ignores permission bits, not EROFS), a full disk or a
    quota each give one line. Says nothing about a file already at ``path``.
    """
    path = Path(path)
    folder = folder_of(path)
    if not folder.is_dir():
        raise BayesstackError(
            f"{field}: folder {show(folder)} does not exist; create it or choose another path"
        )
    limit, size = name_max(folder), len(os.fsencode(path.name))
    if size > limit:
        raise BayesstackError(
            f"{field}: the name {show(path.name, 40)} is {size} bytes long; this file system "
            f"takes at most {limit}; choose a shorter name"
        )
    probe(folder, field)
    return path


def probe(folder: str | Path, field: str = "output path") -> None:
    """Create, write one byte to and remove a probe file in ``folder``; one line on failure."""
    name = os.path.join(folder, f".bayesstack-probe-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        raise _folder_error(e, folder, field) from None
    try:
        try:
            os.write(fd, b"\0")
        finally:
            os.close(fd)
    except OSError as e:
        raise _folder_error(e, folder, field) from None
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass


def _folder_error(exc: OSError, folder: str | Path, field: str) -> BayesstackError:
    code = errno.errorcode.get(exc.errno or 0, "")
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()
    return BayesstackError(
        f"{field}: cannot write in folder {show(folder)}: {reason}"
        f"{f' ({code})' if code else ''}; choose another folder"
    )


def check_folder(path: str | Path, field: str = "--out") -> Path:
    """Fail, before any work, unless ``path`` is, or can be made, a folder to write into.

    An existing folder must take a probe file (:func:`probe`); an absent one needs a writable,
    existing parent and a name that fits. A file at ``path`` is an error.
    """
    path = Path(path)
    if path.is_dir():
        probe(path, field)
        return path
    if path.exists() or path.is_symlink():
        raise BayesstackError(f"{field}: {show(path)} is a file; give a folder")
    preflight(path, field)
    return path


# --- the marker rule ---------------------------------------------------------------------------
def is_generated(path: str | Path) -> bool:
    """Whether the file ``path`` carries bayesstack's generator marker (the marker rule).

    A file counts as written by bayesstack when its first MiB holds ``generator`` followed,
    within a few punctuation characters, by ``bayesstack``: a JSON ``"generator": "bayesstack
    ..."`` key (:func:`with_generator`), an HTML ``<meta name="generator" content="bayesstack
    ...">``, a ``# generator: bayesstack ...`` or ``<!-- generator: bayesstack ... -->`` line,
    a PNG ``generator`` text chunk. A report's provenance line ("Generated ... by bayesstack
    from N runs") counts too. Runs (``.nc``/``.zarr``) have their own rule (their spec
    attribute) in :mod:`bayesstack.inference.io`.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(MARKER_SCAN)
    except OSError:
        return False
    return _MARKER.search(head) is not None


def with_generator(obj: dict) -> dict:
    """``obj`` with ``"generator": GENERATOR`` first: the marker of a JSON output."""
    return {"generator": GENERATOR, **{k: v for k, v in obj.items() if k != "generator"}}


def check_replaceable_output(
    path: str | Path,
    field: str = "output path",
    *,
    ours: Callable[[Path], bool] = is_generated,
) -> Path:
    """Fail unless ``path`` is absent or a file that bayesstack wrote.

    ``ours`` recognises bayesstack's own files: the generator marker by default
    (:func:`is_generated`); a format that cannot carry the marker (a prediction CSV) passes
    its own test.
    """
    path = Path(path)
    if path.is_dir():
        raise BayesstackError(f"{field}: {show(path)} is a folder; give a file path")
    if (path.exists() or path.is_symlink()) and not ours(path):
        raise BayesstackError(
            f"{field}: {show(path)} exists and was not written by bayesstack; remove it or "
            "choose another path"
        )
    return path


# --- temporary files and atomic writes ---------------------------------------------------------
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def temp_prefix(path: Path) -> str:
    """The prefix of the temporary names for target ``path``: ``.NAME.`` (shortened to fit)."""
    room = name_max(folder_of(path)) - TMP_EXTRA
    return f".{short_name(path.name, max(room, 16))}."


def _temp_pattern(path: Path) -> re.Pattern[str]:
    return re.compile(re.escape(temp_prefix(path)) + r"[a-z0-9_]{8}\.tmp")


def _lock(fd: int, block: bool = True) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if block else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def remove_stale_temps(path: str | Path, before: float | None = None) -> list[str]:
    """Remove temporary files that a killed writer left beside ``path``; return their names.

    Only names of our own pattern for that target (``.NAME.XXXXXXXX.tmp``, files or zarr
    folders), last modified before ``before`` (default: now), and not locked: every writer
    holds an exclusive ``flock`` on its temporary file while it writes, and a killed process
    loses its locks, so a temporary file whose lock can be taken has no writer left. Nothing
    is removed where locks are not available.
    """
    path = Path(path)
    folder = folder_of(path)
    before = time.time() if before is None else before
    pattern = _temp_pattern(path)
    removed = []
    if fcntl is None:
        return removed
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        is_dir = stat.S_ISDIR(st.st_mode)
        if st.st_mtime >= before or not (is_dir or stat.S_ISREG(st.st_mode)):
            continue
        flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_DIRECTORY if is_dir else 0)
        try:
            fd = os.open(entry.path, flags)
        except OSError:
            continue
        try:
            if not _lock(fd, block=False) or os.stat(entry.path).st_ino != os.fstat(fd).st_ino:
                continue
            if is_dir:
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


@contextmanager
def temp_beside(path: str | Path, field: str = "output path", *, folder: bool = False):
    """A locked temporary file (or folder) beside ``path``: yields ``(tmp, fd)``.

    Stale temporary files of the same target are removed first (:func:`remove_stale_temps`).
    The temporary file is removed on any failure, unless it was renamed into place; an
    OSError becomes one line (:func:`write_error`).
    """
    path = Path(path)
    start = time.time()
    remove_stale_temps(path, before=start)
    try:
        tmp, fd = _make_temp(path, folder)
    except OSError as e:
        raise write_error(e, path, field) from None
    try:
        yield tmp, fd
    except BaseException as e:
        _remove(tmp)
        err = find_os_error(e)
        if err is not None and not isinstance(e, BayesstackError | KeyboardInterrupt):
            raise write_error(err, path, field) from None
        raise
    finally:
        os.close(fd)


def _make_temp(path: Path, folder: bool) -> tuple[str, int]:
    """Create and lock a temporary file or folder; retry if a cleaner removed it meanwhile."""
    for _ in range(10):
        kw = {"prefix": temp_prefix(path), "suffix": ".tmp", "dir": folder_of(path)}
        if folder:
            tmp = tempfile.mkdtemp(**kw)
            fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
        else:
            fd, tmp = tempfile.mkstemp(**kw)
        _lock(fd)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        except FileNotFoundError:
            pass
        os.close(fd)
    raise OSError(errno.EAGAIN, "temporary files beside the target keep disappearing")


def _remove(tmp: str) -> None:
    if not (os.path.isdir(tmp) and not os.path.islink(tmp)):
        Path(tmp).unlink(missing_ok=True)
        return
    for delay in (0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0):  # zarr's writes still in flight may
        time.sleep(delay)  # add files to a folder while it is being removed
        shutil.rmtree(tmp, ignore_errors=True)
        if not os.path.lexists(tmp):
            return


def atomic_write(
    path: str | Path,
    data: bytes | memoryview,
    field: str = "output path",
    *,
    check: Callable[[], object] | None = None,
) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    The temporary file is written, flushed to disk and given the umask's permissions, then
    ``check()`` (if given) runs and the file is renamed over ``path``. Any failure leaves
    ``path`` as it was and no temporary file behind; a write error (ENOSPC, EROFS, EDQUOT, ...)
    is one :class:`BayesstackError` line.
    """
    path = Path(path)
    with temp_beside(path, field) as (tmp, fd):
        with memoryview(data) as whole, whole.cast("B") as view:  # released on any failure:
            done = 0  # a view left in a traceback may outlive the buffer it points into
            while done < len(view):
                with view[done:] as rest:
                    done += os.write(fd, rest)
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are for sharing
        os.fsync(fd)  # a full disk or quota may only show here
        if check is not None:
            check()
        os.replace(tmp, path)
    return path


def write_output(
    path: str | Path,
    data: bytes | memoryview,
    field: str = "output path",
    *,
    ours: Callable[[Path], bool] = is_generated,
) -> Path:
    """:func:`atomic_write` under the marker rule: never replaces a file bayesstack did not write.

    The rule (``ours``, see :func:`check_replaceable_output`) is checked again just before the
    rename (a file may have appeared meanwhile); the data should carry the marker (e.g. JSON
    through :func:`with_generator`) so that the next run may replace the file.
    """
    check = lambda: check_replaceable_output(path, field, ours=ours)  # noqa: E731
    return atomic_write(path, data, field, check=check)
