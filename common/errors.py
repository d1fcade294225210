"""Every error a user can fix, in one leaf module (it imports nothing of the zoo).

A user error (bad input, missing data, a wrong file) is a `UserError`; `common.cli.run` prints it as
one `error: ...` line and exits with status 2. Each kind keeps the built-in base it has always had, so
`except ValueError` and the like still catch it. Modules import their error types from here, so that
the CLI boundary knows them all without importing the modules that raise them.
"""
from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad argument, unusable output path): printed as one line."""


class DatasetMissingError(UserError, RuntimeError):
    """A dataset is neither prepared locally nor downloadable."""


class DataLayoutError(UserError, ValueError):
    """A --data-dir is not in the layout the model reads; the message says what is missing."""


class ChecksumError(UserError, RuntimeError):
    """A published file does not have the sha256 pinned for it."""


class WeightsNotFoundError(UserError, RuntimeError):
    """A published file is neither local nor downloadable."""


class WheelError(UserError, RuntimeError):
    """A wheel cannot be downloaded, or lacks the requested member."""


class ModelFileError(UserError, ValueError):
    """A model file that cannot stand where it is given (not int8, or the wrong input shape)."""


class ImageError(UserError, ValueError):
    """An image cannot be decoded; the message names the file."""


class LabelError(UserError, ValueError):
    """A YOLO label line that cannot be a box; the message names the file and line."""


class AudioError(UserError, ValueError):
    """An audio file is unreadable, corrupt or empty; the message names the file."""


class QuantizationError(UserError, RuntimeError):
    """The converted graph is not full-int8."""


class EfinixCompatibilityError(UserError, RuntimeError):
    """The `.tflite` breaks a rule of the Efinix TinyML Generator / its TFLM firmware."""


class PassCheckError(UserError, RuntimeError):
    """A pass between the float model and the `.tflite` did not preserve what it promises."""


class GeneratorError(UserError):
    """A bad Efinix generator option, a missing analyzer, or an analyzer failure."""


class ResumeError(UserError, ValueError):
    """The saved resume state cannot be used for this command (other configuration, or damaged)."""


class ConversionError(UserError, ValueError):
    """A model file the converter cannot take (unknown format, an operator it does not import, an op
    the target cannot run): the message lists every problem at once, with what to use instead."""


class RecipeError(UserError, LookupError):
    """No such model, or its recipe is malformed."""


# What the CLI boundary turns into one line: the zoo's own errors and the OS's (a missing or unreadable
# file, a read-only or full disk, a name that exists: the user fixes each, none is a bug to trace).
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, OSError)
