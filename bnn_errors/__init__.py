"""The project's exceptions, named for what the caller should do.

::

    BnnTuneError                 root: anything bnn-tune raises on purpose
    ├── InvalidInputError        fix the request (also a ValueError): a value out of range, an unknown name
    │   ├── DataNotFoundError    fix the set-up: the data set is not where we looked
    │   ├── CorruptDataError     fix the data: a file could not be decoded
    │   ├── NotFoundError        fix the id: no such study, trial, comparison or space
    │   └── ConflictError        the object's state forbids it (e.g. cancelling a finished study)
    ├── RetryableError           try again: a transient fault (a worker died, the database was busy)
    │   └── StorageUnavailableError  the database could not be reached
    └── GiveUpError              do not retry: the same input fails the same way
        └── TrainingDivergedError  the loss became NaN or infinite

The API maps these classes to status codes in one handler; the tuner retries only ``RetryableError``.
"""

from __future__ import annotations


class BnnTuneError(Exception):
    """Root of every exception bnn-tune raises on purpose."""


class InvalidInputError(BnnTuneError, ValueError):
    """The request is wrong: fix it (a value out of its range, an unknown task or optimizer).

    ``field`` names the request field at fault where there is one (dotted for a nested field, as
    ``early_stopping.percentile``), so that the API and the CLI can point at it without reading the message.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DataNotFoundError(InvalidInputError):
    """A data set is missing where it was looked for; the message says what to download and where."""


class CorruptDataError(InvalidInputError):
    """A data file exists but cannot be decoded; the message names the file."""


class RetryableError(BnnTuneError):
    """A transient fault: the same request may succeed if tried again."""


class GiveUpError(BnnTuneError):
    """A permanent failure: trying again with the same input fails the same way."""


class TrainingDivergedError(GiveUpError):
    """The training loss or the model's parameters became NaN or infinite; the trial yields no numbers."""

    def __init__(self, epoch: int, step: int, loss: float, *, parameters_finite: bool = True) -> None:
        what = f"loss is {loss}" if parameters_finite else f"parameters are no longer finite (loss {loss})"
        super().__init__(f"training diverged at epoch {epoch}, step {step}: {what}")
        self.epoch = epoch
        self.step = step
        self.loss = loss


class NotFoundError(InvalidInputError):
    """No object has the given id (a study, a trial, a comparison, a search space)."""


class ConflictError(InvalidInputError):
    """The request conflicts with the object's current state (e.g. cancelling a finished study)."""


class StorageUnavailableError(RetryableError):
    """The database could not be reached or is busy; the message names the setting that points at it."""
