"""Output files: pre-flight checks, names that fit, the marker rule, atomic writes, stale temps."""

import errno
import fcntl
import json
import os
import re
import time

import pytest

from bayesstack.errors import BayesstackError
from bayesstack.inference import outputs
from bayesstack.inference.io import check_output_path, check_run_path
from bayesstack.inference.outputs import (
    atomic_write,
    check_folder,
    is_generated,
    name_max,
    preflight,
    remove_stale_temps,
    short_name,
    with_generator,
    write_output,
)


def failing_probe(monkeypatch, code, at="open"):
    """Make the probe file's ``os.open`` (or its one-byte write) fail with ``code``."""
    real_open, real_write = os.open, os.write
    probes = set()

    def fake_open(path, flags, *a, **k):
        if ".bayesstack-probe-" in os.fspath(path):
            if at == "open":
                raise OSError(code, os.strerror(code), os.fspath(path))
            fd = real_open(path, flags, *a, **k)
            probes.add(fd)
            return fd
        return real_open(path, flags, *a, **k)

    def fake_write(fd, data):
        if fd in probes:
            raise OSError(code, os.strerror(code))
        return real_write(fd, data)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "write", fake_write)


@pytest.mark.parametrize(
    ("code", "at", "words"),
    [
        (errno.EROFS, "open", "the file system is read-only (EROFS)"),
        (errno.EACCES, "open", "permission denied (EACCES)"),
        (errno.ENOSPC, "write", "no space left on the device (ENOSPC)"),
        (errno.EDQUOT, "write", "disk quota exceeded (EDQUOT)"),
    ],
)
def test_the_probe_finds_a_folder_that_cannot_be_written(tmp_path, monkeypatch, code, at, words):
    failing_probe(monkeypatch, code, at)
    for check in (check_output_path, check_run_path, preflight):
        with pytest.raises(BayesstackError, match="cannot write in folder") as e:
            check(tmp_path / "out.nc", "--out")
        assert words in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(BayesstackError, match=re.escape(words)):
        check_folder(tmp_path / "demo-out", "--out")
    assert list(tmp_path.iterdir()) == []  # the probe is gone


def test_names_longer_than_name_max_are_refused(tmp_path):
    limit = name_max(tmp_path)
    for check, suffix in ((check_output_path, ".json"), (check_run_path, ".nc")):
        with pytest.raises(
            BayesstackError, match=f"bytes long; this file system takes at most {limit}"
        ):
            check(tmp_path / ("x" * limit + suffix), "--out")
    name = "é" * (limit // 2) + ".json"  # fewer characters than bytes
    with pytest.raises(BayesstackError, match="shorter name") as e:
        check_output_path(tmp_path / name, "--json")
    assert len(str(e.value)) < 300
    check_output_path(tmp_path / ("x" * (limit - 5) + ".json"))  # at the limit: fine


def test_short_name_fits_keeps_the_suffix_and_stays_distinct():
    assert short_name("report.html") == "report.html"
    a, b = "a" * 300 + "-one.png", "a" * 300 + "-two.png"
    sa, sb = short_name(a, 64), short_name(b, 64)
    assert len(sa.encode()) <= 64 and sa.endswith(".png") and sa != sb
    assert sa.startswith("aaaa") and sa == short_name(a, 64)
    s = short_name("ü" * 200 + ".md", 50)  # never cuts a character in half
    assert len(s.encode()) <= 50 and s.encode().decode() == s and s.endswith(".md")


def test_a_long_target_gets_a_short_temporary_name(tmp_path):
    path = tmp_path / ("r" * (name_max(tmp_path) - 5) + ".json")
    write_output(path, json.dumps(with_generator({"a": 1})).encode())
    write_output(path, json.dumps(with_generator({"a": 2})).encode())
    assert json.loads(path.read_text())["a"] == 2
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_the_marker_rule(tmp_path):
    mine = tmp_path / "geo.json"
    write_output(mine, json.dumps(with_generator({"model": "m"})).encode(), "--json")
    assert json.loads(mine.read_text())["generator"].startswith("bayesstack ")
    write_output(mine, json.dumps(with_generator({"model": "n"})).encode(), "--json")
    assert json.loads(mine.read_text())["model"] == "n"
    theirs = tmp_path / "notes.json"
    theirs.write_text('{"model": "my own notes"}')
    for call in (
        lambda: check_output_path(theirs, "--json"),
        lambda: write_output(theirs, b"{}", "--json"),
    ):
        with pytest.raises(BayesstackError, match="exists and was not written by bayesstack"):
            call()
    assert theirs.read_text() == '{"model": "my own notes"}'
    report = tmp_path / "report.md"  # a report from before the markers: its provenance line
    report.write_text("# Title\n\nGenerated 2026-01-01 10:00 UTC by bayesstack from 2 runs.\n")
    assert is_generated(report)
    for text in ['<meta name="generator" content="bayesstack 1.0">', "# generator: bayesstack"]:
        report.write_text(text)
        assert is_generated(report)
    for text in ["", "bayesstack", "generated by hand", "<p>Generated by me</p>"]:
        report.write_text(text)
        assert not is_generated(report), text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["geo.json", "notes.json", "report.md"]


def test_a_folder_is_not_a_file_and_a_file_is_not_a_folder(tmp_path):
    (tmp_path / "d.json").mkdir()
    (tmp_path / "f").write_text("")
    with pytest.raises(BayesstackError, match="is a folder"):
        check_output_path(tmp_path / "d.json")
    with pytest.raises(BayesstackError, match="is a file; give a folder"):
        check_folder(tmp_path / "f")
    with pytest.raises(BayesstackError, match="does not exist"):
        check_folder(tmp_path / "no" / "out")
    check_folder(tmp_path / "new")
    check_folder(tmp_path / "d.json")


@pytest.mark.parametrize(
    ("code", "where"),
    [(errno.ENOSPC, "write"), (errno.EDQUOT, "fsync"), (errno.EROFS, "replace")],
)
def test_write_errors_are_one_line_and_leave_nothing(tmp_path, monkeypatch, code, where):
    path = tmp_path / "out.json"
    write_output(path, json.dumps(with_generator({"v": "old"})).encode())
    before = path.read_bytes()

    def fail(*a, **k):
        raise OSError(code, os.strerror(code))

    target = {"write": "write", "fsync": "fsync", "replace": "replace"}[where]
    monkeypatch.setattr(os, target, fail)
    with pytest.raises(BayesstackError, match=errno.errorcode[code]) as e:
        write_output(path, json.dumps(with_generator({"v": "new"})).encode(), "--json")
    monkeypatch.undo()
    msg = str(e.value)
    assert msg.startswith("--json: writing") and "nothing was written" in msg and "\n" not in msg
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_stale_temporary_files_are_removed_safely(tmp_path):
    path = tmp_path / "run.json"
    old = time.time() - 60
    stale = [tmp_path / ".run.json.abcd1234.tmp", tmp_path / ".run.json.zz_99xyz.tmp"]
    (tmp_path / ".run.json.zz_99xyz.tmp").mkdir()  # a zarr temporary folder
    (stale[1] / "W1").write_text("half")
    stale[0].write_text("half")
    keep = {
        ".other.json.abcd1234.tmp": "another target's",
        ".run.json.abcd1234.tmp.bak": "not our pattern",
        "run.json.abcd1234.tmp": "not hidden",
        ".run.json.ABCD1234.tmp": "not mkstemp's letters",
        ".run.json.live0000.tmp": "locked by a live writer",
        ".run.json.new00000.tmp": "newer than the write",
    }
    for name in keep:
        (tmp_path / name).write_text("x")
    for p in [*stale, *(tmp_path / n for n in keep if "new" not in n)]:
        os.utime(p, (old, old))
    os.utime(tmp_path / ".run.json.new00000.tmp", (old + 120, old + 120))
    fd = os.open(tmp_path / ".run.json.live0000.tmp", os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        atomic_write(path, b"data")
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*keep, "run.json"])
    os.utime(tmp_path / ".run.json.live0000.tmp", (old, old))
    assert remove_stale_temps(path) == [".run.json.live0000.tmp"]  # its writer is gone now


def test_a_temporary_removed_before_it_is_locked_is_made_again(tmp_path, monkeypatch):
    real = outputs._lock
    calls = []

    def lock_late(fd, block=True):  # a cleaner removed the new temporary file just before
        if not calls:
            for p in tmp_path.glob(".out.json.*.tmp"):
                p.unlink()
        calls.append(fd)
        return real(fd, block)

    monkeypatch.setattr(outputs, "_lock", lock_late)
    atomic_write(tmp_path / "out.json", b"ok")
    assert len(calls) == 2 and (tmp_path / "out.json").read_bytes() == b"ok"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
