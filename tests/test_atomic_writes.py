"""Nothing half-written: exports and replay dumps on a full disk keep the earlier file and
leave no temporary file; /dev/full is one line; `--dump` onto its own input is refused; the
dump is streamed (its memory does not grow with the replay) and reads as before."""
from __future__ import annotations

import errno
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from records_data import fill_history
from vrgmi import atomic
from vrgmi.cli import main
from vrgmi.core import DUMP_CHUNK, dump_replay
from vrgmi.records import RecordSink, open_database
from vrgmi.settings import load_settings
from vrgmi.tracking.record import record_source
from vrgmi.tracking.scripted import ScriptedSource


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    path = tmp_path_factory.mktemp("atomic") / "records.sqlite3"
    database = open_database(f"sqlite:///{path}")
    sink = RecordSink(database)
    fill_history(sink, "P01", 3)
    sink.close()
    database.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "in.npz"
    record_source(ScriptedSource("reach", intact_side="right", rate_hz=30.0), path, 30.0, 4.0)
    return path


class _FullDisk:
    """Every write through an open file raises ENOSPC after ``budget`` bytes (the disk
    fills part way through the file)."""

    def __init__(self, monkeypatch, budget: int = 100) -> None:
        real_fdopen = os.fdopen
        left = [budget]

        class Limited:
            def __init__(self, fh):
                self._fh = fh

            def write(self, data):
                if len(data) > left[0]:
                    self._fh.write(bytes(data[:left[0]]))
                    left[0] = 0
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                left[0] -= len(data)
                return self._fh.write(data)

            def __getattr__(self, name):
                return getattr(self._fh, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._fh.close()

        monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: Limited(real_fdopen(fd, mode)))


def _error_line(err: str) -> str:
    """The one error line (progress lines may come before it), checked to be the last."""
    lines = err.splitlines()
    errors = [line for line in lines if line.startswith("vrgmi:")]
    assert len(errors) == 1 and lines[-1] == errors[0], err[-2000:]
    return errors[0]


def _listing(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("fmt", ["csv", "fhir", "pdf"])
def test_export_on_a_full_disk_keeps_the_earlier_export(url, tmp_path, monkeypatch, capsys,
                                                        fmt):
    out = tmp_path / ("out" if fmt == "csv" else f"export.{fmt}")
    args = ["export", "P01", "--format", fmt, "--out", str(out), "--database", url]
    assert main(args) == 0
    folder = out if fmt == "csv" else tmp_path
    before = _listing(folder)
    capsys.readouterr()
    _FullDisk(monkeypatch)
    assert main(args) == 2
    err = _error_line(capsys.readouterr().err)
    assert "No space left on device" in err and len(err) <= 200
    assert _listing(folder) == before           # same files, same bytes, no temp file


@pytest.mark.parametrize("fmt", ["fhir", "pdf"])
def test_export_to_dev_full_is_one_line(url, capsys, fmt):
    assert main(["export", "P01", "--format", fmt, "--out", "/dev/full",
                 "--database", url]) == 2
    err = _error_line(capsys.readouterr().err)
    assert err == "vrgmi: export: cannot write /dev/full (No space left on device)"


def test_dump_on_a_full_disk_keeps_the_earlier_dump(replay, tmp_path, monkeypatch, capsys):
    dump = tmp_path / "dump.npz"
    args = ["replay", str(replay), "--dump", str(dump)]
    assert main(args) == 0
    before = _listing(tmp_path)
    capsys.readouterr()
    _FullDisk(monkeypatch)
    assert main(args) == 2
    err = _error_line(capsys.readouterr().err)
    assert "No space left on device" in err
    assert _listing(tmp_path) == before


def test_dump_onto_its_own_input_is_refused(replay, tmp_path, capsys):
    copy = tmp_path / "in.npz"
    copy.write_bytes(replay.read_bytes())
    link = tmp_path / "link.npz"
    link.symlink_to(copy)
    for target in (copy, link, tmp_path / "." / "in.npz"):
        assert main(["replay", str(copy), "--dump", str(target)]) == 2
        assert "is the replay itself" in _error_line(capsys.readouterr().err)
    assert copy.read_bytes() == replay.read_bytes()


def _dump_peak(folder: Path, frames: int) -> tuple[int, Path, int]:
    src = folder / f"in{frames}.npz"
    record_source(ScriptedSource("reach", intact_side="right", rate_hz=90.0), src, 90.0,
                  frames / 90.0)
    dump = folder / f"d{frames}.npz"
    tracemalloc.start()
    n = dump_replay(src, dump, load_settings(None, {}))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, dump, n


def test_streamed_dump_reads_as_before_and_keeps_memory_flat(tmp_path, monkeypatch):
    """The dump spans several chunks and reads as the documented .npz; its peak memory grows
    with the replay only by what the loaded replay itself takes, not by the dump."""
    monkeypatch.setattr("vrgmi.core.DUMP_CHUNK", 256)
    peak1, _, n1 = _dump_peak(tmp_path, 1000)
    peak2, dump, n = _dump_peak(tmp_path, 3000)
    with np.load(dump, allow_pickle=False) as d:
        assert sorted(d.files) == ["body_yaw", "intact", "joint_names", "phantom",
                                   "phantom_visible", "t", "turn_suspected"]
        j = len(d["joint_names"])
        assert d["intact"].shape == d["phantom"].shape == (n, j, 3) and n == 3000
        assert d["phantom_visible"].dtype == np.bool_ and d["t"].shape == (n,)
        assert np.all(np.isfinite(d["intact"])) and d["phantom_visible"][n // 2]
        assert np.all(np.diff(d["t"]) > 0)
    dumped_per_frame = 2 * j * 3 * 8 + 10          # what an in-memory dump would hold
    loaded = sum(a.nbytes for a in np.load(tmp_path / "in3000.npz").values()) / n
    growth = (peak2 - peak1) / (n - n1)
    # the replay is read (file arrays, then engine-space copies): about 2 x its bytes
    assert growth < 2.2 * loaded + 0.2 * dumped_per_frame, (growth, loaded, dumped_per_frame)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
