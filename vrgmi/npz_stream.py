"""Write a ``.npz`` whose arrays arrive in row chunks, with memory bounded by one chunk.

A ``.npz`` is a zip of ``.npy`` members written one after another, so arrays that grow
together (a replay dump's per-frame columns) cannot be written into it side by side. Each
column is streamed to its own unnamed temporary file (in the output's folder; nothing is left
behind even after a crash), and :meth:`NpzStream.finish` copies them, block by block, into a
compressed ``.npz`` written atomically (:mod:`vrgmi.atomic`). ``numpy.load`` reads the result
as any other ``.npz``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
from numpy.lib import format as npy

from vrgmi.atomic import AtomicWriteError, atomic_write

_COPY_BLOCK = 1 << 20


class NpzStream:
    """Columns of fixed row shape and dtype, appended in chunks; :meth:`finish` writes the
    file. Use as a context manager (the temporary files are closed on any exit)."""

    def __init__(self, path: str | os.PathLike, columns: dict[str, tuple[tuple[int, ...], str]],
                 what: str = "") -> None:
        self.path = Path(path)
        self.what = what
        self._spec = {k: (tuple(shape), np.dtype(dtype)) for k, (shape, dtype) in columns.items()}
        self._rows = dict.fromkeys(columns, 0)
        self._files: dict[str, IO[bytes]] = {}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            for key in columns:
                self._files[key] = tempfile.TemporaryFile(dir=self.path.parent)
        except OSError as exc:
            self.close()
            raise AtomicWriteError(f"{what + ': ' if what else ''}cannot write {self.path} "
                                   f"({exc.strerror or exc})") from None

    def append(self, key: str, rows: np.ndarray) -> None:
        """Append ``rows`` (k, *row shape) to column ``key``."""
        shape, dtype = self._spec[key]
        rows = np.ascontiguousarray(rows, dtype=dtype)
        if rows.shape[1:] != shape:
            raise ValueError(f"{key}: rows of shape {rows.shape[1:]}, expected {shape}")
        try:
            self._files[key].write(rows.tobytes())
        except OSError as exc:
            raise AtomicWriteError(f"{self.what + ': ' if self.what else ''}cannot write "
                                   f"{self.path} ({exc.strerror or exc})") from None
        self._rows[key] += rows.shape[0]

    def finish(self, extra: dict[str, np.ndarray] | None = None) -> Path:
        """Write the ``.npz`` (the streamed columns, then ``extra`` small arrays) atomically."""
        with atomic_write(self.path, self.what) as fh, \
                zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for key, src in self._files.items():
                shape, dtype = self._spec[key]
                header = {"descr": npy.dtype_to_descr(dtype), "fortran_order": False,
                          "shape": (self._rows[key],) + shape}
                src.flush()
                src.seek(0)
                with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                    npy.write_array_header_1_0(member, header)
                    shutil.copyfileobj(src, member, _COPY_BLOCK)
            for key, array in (extra or {}).items():
                with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                    npy.write_array(member, np.asanyarray(array), allow_pickle=False)
        return self.path

    def close(self) -> None:
        """Close (and so delete) the temporary column files."""
        for f in self._files.values():
            f.close()
        self._files = {}

    def __enter__(self) -> "NpzStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
