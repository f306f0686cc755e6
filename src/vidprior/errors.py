"""The one exception type that reaches the user as a one-line message (exit code 2)."""


class VidpriorError(ValueError):
    """Bad input or an impossible request; the message says what is wrong and how to fix it."""
