"""Errors that the edges (CLI, API, UI) turn into a one-line message instead of a traceback."""


class UserError(Exception):
    """Bad input or a state the user can fix; the message says how."""


class IndexMissingError(UserError):
    pass


class IndexMismatchError(UserError):
    pass


class IndexDamaged(UserError):
    """A build file or collection is not what the build wrote; `assistant index` builds anew."""

    def __init__(self, what: str) -> None:
        super().__init__(f"the index is damaged ({what}); run `assistant index` to repair it")
        self.what = what
