"""User-facing errors. The CLI prints them as one line and exits with code 2."""


class BayesstackError(ValueError):
    """A user error: bad input, a bad spec or a bad file. The CLI prints it as one line."""


class SpecError(BayesstackError):
    """A model spec is malformed or names something unknown."""


class DataError(BayesstackError):
    """Data are malformed or do not fit the model's family."""


def check_int(name: str, value: object, low: int = 0) -> int:
    """``value`` as an ``int`` (NumPy integers too) if it is an integer ``>= low``.

    Raises
    ------
    BayesstackError
        One line naming ``name``, otherwise.
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise BayesstackError(f"{name}: must be an integer >= {low}, got {value!r}")
    return int(value)
