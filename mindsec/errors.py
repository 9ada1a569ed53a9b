"""Errors that carry a one-line message for the user.

Every check in mindsec raises one of these with a sentence that names the argument and
what was expected. Scripts and the CLI print that sentence (no stack trace) through
:func:`mindsec.cli_support.run_main`.
"""


class MindsecError(Exception):
    """Base class: the message is a complete, one-line explanation."""


class InputError(MindsecError, ValueError):
    """An argument has the wrong shape, dtype, range or format."""


class DataError(MindsecError, OSError):
    """A dataset directory or file is missing, truncated or corrupt."""


class DeviceError(MindsecError, RuntimeError):
    """The requested device target cannot run on this build or machine."""
