"""The exceptions fnn raises.

Every error fnn raises on bad input is an ``FnnError``. Each subclass also
derives from the built-in exception a plain ``except`` clause would expect, so
``except ValueError`` still catches a shape mismatch.
"""


class FnnError(Exception):
    """Base class of every error fnn raises on bad input."""


class ShapeError(FnnError, ValueError):
    """An array has the wrong rank, size or shape for where it is used."""


class DTypeError(FnnError, TypeError):
    """An array has the wrong dtype (for example integers where floats are needed)."""


class TreeError(FnnError, ValueError):
    """Two trees that must share a structure do not (for example params and grads)."""


class DataError(FnnError, ValueError):
    """Data is invalid: labels out of range, empty batches, corrupt or truncated files."""


class NonFiniteError(FnnError, FloatingPointError):
    """A loss or gradient became NaN or infinite."""


class MissingKeyError(FnnError, ValueError):
    """A layer needs a random key (dropout in training) and was given none."""


class ConfigError(FnnError, ValueError, TypeError):
    """A setting or argument that cannot work: a non-positive batch size or learning
    rate, a rate outside its range, an object of the wrong kind (a factory where a
    layer belongs). Both a ValueError and a TypeError, as either may be expected."""


class RankError(FnnError, RuntimeError):
    """The processes of a data-parallel run disagree (different models, data or
    parameters), or another process failed with an error that is not an FnnError."""
