"""The one exception type that reaches the user as a single line."""


class AekitError(Exception):
    """A problem the user can fix (bad input, missing file, refused overwrite); the CLI prints it as one line."""
