"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""

_ONE_LINE = str.maketrans({"\n": "\\n", "\r": "\\r", "\x0b": "\\v", "\x0c": "\\f", "\x1c": " ", "\x1d": " ",
                           "\x1e": " ", "\x85": " ", "\u2028": " ", "\u2029": " "})  # fmt: skip


class GantoolsError(Exception):
    """Bad input or a state the user can fix: the message says what is wrong and what to do. Always one line:
    line breaks inside it (a value quoted from the data, e.g. a label with a newline) are written as ``\\n``."""

    def __init__(self, message: object = "") -> None:
        super().__init__(str(message).strip().translate(_ONE_LINE))


class ModelNotFoundError(GantoolsError):
    """No trained model where one was expected."""


class UsageError(GantoolsError, ValueError):
    """A setting or option out of its range, malformed, or one that does not apply to this kind of model: the
    call, not the data, is wrong (the CLI exits with 2, as for options it cannot parse)."""
