"""Errors that reach the user as one clear line (the CLI prints them without a traceback)."""


class GantoolsError(Exception):
    """Bad input or a state the user can fix: the message says what is wrong and what to do."""


class ModelNotFoundError(GantoolsError):
    """No trained model where one was expected."""
