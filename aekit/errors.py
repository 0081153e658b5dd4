"""The one exception type that reaches the user as a single line."""


class AekitError(Exception):
    """A problem the user can fix (bad input, missing file, refused overwrite); the CLI prints it as one line.

    The message names the parameters it is about by their Python names, in backticks where one is the fix
    ("pass `force` to replace it"); the command line shows those as its options (--force)."""
