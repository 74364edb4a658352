"""The one exception type for mistakes a user can fix: printed as one line, exit status 2."""


class UserError(Exception):
    """A bad flag, a missing dataset, an impossible parameter: reported without a traceback.

    ``prog`` names the (sub)command the message is about, e.g. ``"frl theory"``.
    """

    def __init__(self, message: str, prog: str = "frl"):
        super().__init__(message)
        self.prog = prog
