"""The warnings a report run handles itself, silenced narrowly so that none reaches the terminal.

Each filter names one message of one library and says why the user loses nothing by not seeing
it; every other warning still shows. ``tests/report/test_ppc.py`` checks that ``compare``
and the demo emit none.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

#: (message regex, category, module regex, why it is silenced).
HANDLED = (
    (
        r"Estimated shape parameter of Pareto distribution is greater than",
        UserWarning,
        r"arviz_stats\.",
        "high Pareto k of PSIS-LOO: the model table counts these observations instead",
    ),
    (
        r"Numba will use object mode to run tri_gamma's perform method",
        UserWarning,
        r"pytensor\.",
        "PyTensor has no Numba kernel for the trigamma function (the Hessian of a Student-t or "
        "negative binomial log density in nu or alpha), so it runs that one operation in "
        "Python: the same numbers, a little slower, nothing to act on",
    ),
)


@contextmanager
def handled_warnings() -> Iterator[None]:
    """Within this block, the warnings of :data:`HANDLED` are not shown; all others are."""
    with warnings.catch_warnings():
        for message, category, module, _why in HANDLED:
            warnings.filterwarnings("ignore", message, category, module)
        yield
