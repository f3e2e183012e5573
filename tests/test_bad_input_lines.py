"""Issue 15, findings 7 and 8: one line instead of a traceback for each reported input, and
the pose-source settings really choose the pose source."""
from __future__ import annotations

import numpy as np
import pytest

from vrgmi.app import EngineError, local_pose_source
from vrgmi.cli import main
from vrgmi.errors import SettingsError
from vrgmi.settings import load_settings
from vrgmi.tracking.record import record_source
from vrgmi.tracking.replay import ReplayFormatError, ReplaySource
from vrgmi.tracking.scripted import ScriptedSource, SourceError


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "Traceback" not in err and lines and lines[-1].startswith("vrgmi: "), err
    assert sum(line.startswith("vrgmi:") for line in lines) == 1 and len(lines[-1]) <= 200
    return lines[-1]


def _cases(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    latin = tmp_path / "latin.json"
    latin.write_bytes(b"[[1.0, \"select\"], \xff\xfe]")
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    neg = tmp_path / "neg.json"
    neg.write_text('[[-1, "select"]]')
    inf = tmp_path / "inf.json"
    inf.write_text('[[1e999, "select"]]')
    db = f"sqlite:///{tmp_path / 'r.sqlite3'}"
    return {
        "settings folder": (["patients", "--config", str(tmp_path), "--set",
                             f"data.database_url={db}"],
                            "is a folder"),
        # a file that cannot be read even by root (reading it fails with EIO)
        "settings unreadable": (["demo", "--config", "/proc/self/mem", "--frames", "1"],
                                "cannot read"),
        "settings not utf-8": (["demo", "--config", str(latin), "--frames", "1"], "UTF-8"),
        "script not utf-8": (["session", "--headless", "--script", str(latin)], "UTF-8"),
        "script nested": (["session", "--headless", "--script", str(deep)], "too deeply"),
        "script negative time": (["session", "--headless", "--script", str(neg)],
                                 "time_s >= 0"),
        "script infinite time": (["session", "--headless", "--script", str(inf)],
                                 "time_s >= 0"),
        "program not utf-8": (["session", "--headless", "--program", str(latin), "--set",
                               f"data.database_url={db}", "--set", "companion.enabled=false"],
                              "UTF-8"),
        "program nested": (["session", "--headless", "--program", str(deep), "--set",
                            f"data.database_url={db}", "--set", "companion.enabled=false"],
                           "too deeply"),
        "demo out is a file": (["demo", "--out", str(a_file)], "is a file"),
        "session out is a file": (["session", "--headless", "--out", str(a_file)], "is a file"),
        "asyncpg not installed": (["patients", "--database", "postgresql+asyncpg://u@h/db"],
                                  "not installed"),
        "width 1280.7": (["demo", "--set", "display.width=1280.7"], "whole"),
        "run seconds -1": (["run", "--seconds", "-1"], "--seconds"),
        "run seconds inf": (["run", "--seconds", "inf"], "--seconds"),
        "bad int option": (["demo", "--frames", "x"], "invalid int value"),
    }


CASES = ["settings folder", "settings unreadable", "settings not utf-8", "script not utf-8",
         "script nested", "script negative time", "script infinite time", "program not utf-8",
         "program nested", "demo out is a file", "session out is a file",
         "asyncpg not installed", "width 1280.7", "run seconds -1", "run seconds inf",
         "bad int option"]


@pytest.mark.parametrize("case", CASES)
def test_reported_inputs_are_one_line(tmp_path, capsys, case):
    cases = _cases(tmp_path)
    assert sorted(cases) == sorted(CASES)
    argv, expect = cases[case]
    try:
        code = main(argv)
    except SystemExit as exc:      # argparse
        code = exc.code
    assert code == 2
    assert expect in _one_error_line(capsys)


@pytest.mark.parametrize("value, ok", [("1280", 1280), ("1280.0", 1280), (1280.0, 1280),
                                       ("1280.7", None), (1280.7, None), ("inf", None),
                                       (float("nan"), None), ("1e3", 1000), (True, None)])
def test_integer_settings_take_whole_numbers_only(value, ok):
    if ok is None:
        with pytest.raises(SettingsError, match="must be a number, a whole one"):
            load_settings(None, {"display.width": value})
    else:
        assert load_settings(None, {"display.width": value}).display.width == ok


def test_tracking_source_chooses_the_pose_source(display, tmp_path):
    path = tmp_path / "r.npz"
    record_source(ScriptedSource("wave", intact_side="right", rate_hz=30.0), path, 30.0, 1.0)

    def source(**overrides):
        return local_pose_source(load_settings(None, {f"tracking.{k}": v
                                                      for k, v in overrides.items()}), display)

    auto = source()
    assert isinstance(auto, ScriptedSource) and auto.motion == "reach"    # the arm's own
    assert source(source="scripted", scripted_motion="wave").motion == "wave"
    leg = local_pose_source(load_settings(None, {"patient.amputation_level": "transtibial"}),
                            display)
    assert leg.motion == "foot_tap"
    replay = source(source="replay", replay_path=str(path))
    assert isinstance(replay, ReplaySource) and replay.loop
    assert np.allclose(replay.replay.t, ReplaySource(path).replay.t)
    with pytest.raises(EngineError, match="needs tracking.replay_path"):
        source(source="replay")
    with pytest.raises(ReplayFormatError, match="file not found"):
        source(source="replay", replay_path=str(tmp_path / "none.npz"))
    with pytest.raises(EngineError, match="needs a headset"):
        source(source="openxr")
    with pytest.raises(EngineError, match="needs a desktop window"):
        source(source="desktop")
    with pytest.raises(SourceError):
        source(source="scripted", scripted_motion="moonwalk")
