"""Where vrgmi keeps files on this machine (user data directory; nothing leaves it)."""
from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir


def data_dir() -> Path:
    """The per-user data directory (records database, kernel-independent caches)."""
    return Path(user_data_dir("vrgmi", appauthor=False))


def default_database_url() -> str:
    """SQLite file in the user data directory: the default records store."""
    return f"sqlite:///{data_dir() / 'vrgmi.sqlite3'}"
