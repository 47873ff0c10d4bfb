"""User-facing errors. The CLI prints them as one line and exits with code 2."""

import math
import reprlib


class BayesstackError(ValueError):
    """A user error: bad input, a bad spec or a bad file. The CLI prints it as one line."""


class SpecError(BayesstackError):
    """A model spec is malformed or names something unknown."""


class DataError(BayesstackError):
    """Data are malformed or do not fit the model's family."""


class SizeError(BayesstackError):
    """A model is over a documented size limit on its data (see ``bayesstack.limits``)."""


class _ShortRepr(reprlib.Repr):
    """``reprlib`` with small budgets, and integers of any size (``repr`` refuses > 4300 digits)."""

    def __init__(self) -> None:
        super().__init__(maxlevel=3, maxdict=4, maxlist=4, maxtuple=4, maxset=4, maxstring=50)
        self.maxother = 50

    def repr_int(self, x: int, level: int) -> str:
        if abs(x) < 10**40:
            return repr(int(x))
        sign = "-" if x < 0 else ""
        if abs(x).bit_length() < 13_000:  # str() works up to 4300 digits
            return f"<{sign}integer of {len(str(abs(x)))} digits>"
        return f"<{sign}integer of about {int(abs(x).bit_length() * math.log10(2)) + 1} digits>"


_SHORT = _ShortRepr()


def short_repr(value: object, limit: int = 60) -> str:
    """A one-line repr of ``value`` of at most ``limit`` characters, for error messages.

    Long values are cut and end in "…"; nested values are abbreviated. Never raises, whatever
    ``value`` is (huge integers, deep nesting, a failing ``__repr__``).
    """
    try:
        if type(value) is str:  # the whole string up to the limit, not reprlib's middle cut
            s = repr(value[:limit])
            s = s if len(value) <= limit else s[:-1]
        else:
            s = _SHORT.repr(value)
    except Exception:  # a message must never fail
        try:
            s = f"<{type(value).__name__} object>"
        except Exception:
            s = "<object>"
    if "\n" in s or "\r" in s:  # e.g. a numpy array's repr
        s = " ".join(s.split())
    return s if len(s) <= limit else s[: max(limit - 1, 0)] + "…"


def check_int(name: str, value: object, low: int = 0) -> int:
    """``value`` as an ``int`` (NumPy integers too) if it is an integer ``>= low``.

    Raises
    ------
    BayesstackError
        One line naming ``name``, otherwise.
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise BayesstackError(f"{name}: must be an integer >= {low}, got {short_repr(value)}")
    return int(value)
