"""Run the command line in this process, as the tests of every command do."""

from bayesstack.cli import main


def run_cli(args, monkeypatch=None, capsys=None):
    """``(exit code, stdout, stderr)`` of ``bayesstack ARGS`` (``capsys`` captures the output)."""
    code = main([str(a) for a in args])
    cap = capsys.readouterr() if capsys is not None else None
    return code, (cap.out if cap else ""), (cap.err if cap else "")
