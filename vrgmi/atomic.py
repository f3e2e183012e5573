"""Atomic file writes: a temporary file in the target's folder, fsync, then ``os.replace``.

A full disk, a crash or any error while writing leaves the earlier file (or none) and no
temporary file behind, never a partial one. Every writer of a user-facing output (exports,
replay dumps) goes through :func:`atomic_write`.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from vrgmi.errors import VrgmiError


class AtomicWriteError(VrgmiError, OSError):
    """An output file could not be written (one line naming the file and the reason)."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _is_special(path: Path) -> bool:
    """True for an existing path that is not a regular file (a device such as /dev/full)."""
    with contextlib.suppress(OSError):
        return path.exists() and not path.is_file()
    return False


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, what: str = "") -> Iterator[BinaryIO]:
    """Open ``path`` for writing in binary; on a clean exit the data lands there at once.

    ``what`` starts the one-line error (e.g. ``"export"``). Writing to a device (not a
    regular file, e.g. ``/dev/full``) writes it directly, since a device cannot be replaced.
    Errors while writing (``OSError``, a compressor's ``zlib.error``) become
    :class:`AtomicWriteError`; the temporary file is always removed.
    """
    path = Path(path)
    label = f"{what}: " if what else ""
    if path.is_dir():
        raise AtomicWriteError(f"{label}cannot write {path}: it is a folder")
    if _is_special(path):
        try:
            with open(path, "wb") as fh:
                yield fh
        except (OSError, zlib.error) as exc:
            raise AtomicWriteError(f"{label}cannot write {path} ({_reason(exc)})") from None
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except (OSError, zlib.error) as exc:
        raise AtomicWriteError(f"{label}cannot write {path} ({_reason(exc)})") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_bytes(path: str | os.PathLike, data: bytes, what: str = "") -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, what) as fh:
        fh.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, what: str = "") -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    return write_bytes(path, text.encode("utf-8"), what)
