"""Errors that the edges (CLI, API, UI) turn into a one-line message instead of a traceback."""


class UserError(Exception):
    """Bad input or a state the user can fix; the message says how."""


class IndexMissingError(UserError):
    pass


class IndexMismatchError(UserError):
    pass
