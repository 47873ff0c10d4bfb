"""``python -m benchmarks SUBCOMMAND``: one command line for every benchmark.

* ``backends``: bayesstack's NUTS backends against the same networks written by hand in PyMC
  and numpyro (sizes a-e), with ``--scaling`` and ``--reuse``;
* ``geometry``: canonicalisation and the full geometry analysis of a large run;
* ``bde``: bayesstack against ``sklearn-contrib-bde`` (MILE) on three data sets;
* ``mclmc``: ESS/s of NUTS against the MCLMC samplers by size, and the share of trapped chains
  per init and sampler.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from benchmarks import backends, bde, geometry, mclmc

COMMANDS = {"backends": backends, "geometry": geometry, "bde": bde, "mclmc": mclmc}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run one benchmark; returns the exit code."""
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    COMMANDS[args.command].run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
