"""Errors a user can cause and fix. Their str() is one plain line; the CLI prints only that."""


class VrgmiError(Exception):
    """Base of every error that is shown to a user as one line, without a traceback."""


class SettingsError(VrgmiError, ValueError):
    """A settings file or override is wrong (unknown key, bad type, out of range)."""
