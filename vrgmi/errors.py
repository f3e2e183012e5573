"""Errors a user can cause and fix. Their str() is one plain line; the CLI prints only that."""


class VrgmiError(Exception):
    """Base of every error that is shown to a user as one line, without a traceback."""


class SettingsError(VrgmiError, ValueError):
    """A settings file or override is wrong (unknown key, bad type, out of range)."""


#: the longest message line a user is shown (the CLI's error printer cuts longer ones)
MESSAGE_MAX_CHARS = 200


def one_line(message: str, limit: int = MESSAGE_MAX_CHARS) -> str:
    """``message`` as one line of at most ``limit`` characters: whitespace runs (newlines
    too) become one space, and a longer text is cut with "..." at the end."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
