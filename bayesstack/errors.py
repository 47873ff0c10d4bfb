"""User-facing errors. The CLI prints them as one line and exits with code 2."""


class BayesstackError(ValueError):
    """A user error: bad input, a bad spec or a bad file. The CLI prints it as one line."""


class SpecError(BayesstackError):
    """A model spec is malformed or names something unknown."""


class DataError(BayesstackError):
    """Data are malformed or do not fit the model's family."""
