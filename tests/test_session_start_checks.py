"""What a session start refuses, in one line, before anything runs (issue 15, findings 1, 4,
5 and 11), through the real `vrgmi` command line, and the gate after a session whose program
file gives ``phase_started`` as a TOML date-time."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from vrgmi.cli import main
from vrgmi.errors import MESSAGE_MAX_CHARS, one_line
from vrgmi.program import ProgramError, gate, load_program
from vrgmi.records import open_database
from vrgmi.records import queries as q


def _session(tmp_path: Path, *extra: str, patient: str = "P15") -> list[str]:
    return ["session", "--headless", "--out", str(tmp_path / "out"),
            "--set", f"data.database_url=sqlite:///{tmp_path / 'db.sqlite'}",
            "--set", "companion.enabled=false", "--set", "safety.ssq_baseline=false",
            "--set", f"patient.id={patient}", "--block-seconds", "0.5", *extra]


def _one_line_error(capsys, argv: list[str]) -> str:
    """Exit status 2 and, after any progress lines, one error line of at most 200 chars."""
    assert main(argv) == 2
    out = capsys.readouterr().err
    assert "Traceback" not in out, out
    err = out.strip().splitlines()[-1]
    assert err.startswith("vrgmi: ") and len(err) <= MESSAGE_MAX_CHARS, out
    return err


def _run_session(argv: list[str]) -> subprocess.CompletedProcess:
    """A session that opens a display runs in its own process: a test process may already
    hold the session-wide offscreen display (tests/conftest.py), and a process has one."""
    return subprocess.run([sys.executable, "-m", "vrgmi", *argv], capture_output=True,
                          text=True, timeout=300)


def _program(tmp_path: Path, body: str, name: str = "prog.toml") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


STEP = '\n[[steps.laterality]]\nscene = "laterality"\nminutes = 0.1\n'


def test_a_non_ascii_patient_id_stops_at_the_settings(tmp_path, capsys):
    err = _one_line_error(capsys, _session(tmp_path, patient="Zoë"))
    assert "patient.id" in err and "Zo" in err
    assert not (tmp_path / "db.sqlite").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("body, expected", [
    ('patient = "P15"\n[[steps.laterality]]\nscene = "no_such_scene"\n', "no_such_scene"),
    ('patient = "P15"\n[[steps.laterality]]\nscene = "laterality"\n'
     '[steps.laterality.params]\nno_such_param = 3\n', "no_such_param"),
    ('patient = "P15"\noverrides = [1, 2]\n' + STEP, "overrides"),
    ('patient = "P15"\nsessions_per_day = 2.5\n' + STEP, "sessions_per_day = 2.5"),
    ('patient = "P99"\n' + STEP, "P99"),
])
def test_a_bad_program_is_refused_at_load(tmp_path, capsys, body, expected):
    prog = _program(tmp_path, body)
    err = _one_line_error(capsys, _session(tmp_path, "--program", str(prog)))
    assert expected in err
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert [p["id"] for p in q.list_patients(db)] == ["P15"]   # no P99 made up
        assert q.list_sessions(db, "P15") == []
    finally:
        db.close()


def test_an_empty_input_script_is_refused(tmp_path, capsys):
    script = tmp_path / "answers.json"
    script.write_text("[]")
    err = _one_line_error(capsys, _session(tmp_path, "--script", str(script)))
    assert "no answers" in err


def test_a_script_that_runs_out_before_the_pain_question_stops(tmp_path):
    """One answer that never reaches the NRS: the session stops in display seconds (well
    under the 3,600 s cap) with one line, and is stored as stopped."""
    script = tmp_path / "answers.json"
    script.write_text(json.dumps([[0.2, "left"]]))
    run = _run_session(_session(tmp_path, "--script", str(script)))
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    err = run.stderr.strip().splitlines()[-1]
    assert err.startswith("vrgmi: ") and len(err) <= MESSAGE_MAX_CHARS, run.stderr
    assert "ran out" in err and "pain_nrs" in err
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        (s,) = q.list_sessions(db, "P15")
        assert s["reason_ended"] == "stopped" and s["minutes"] < 1.0
    finally:
        db.close()


def test_long_messages_are_cut_to_one_short_line(capsys):
    err = _one_line_error(capsys, ["doctor", "--set", "display.width=" + "9" * 5000])
    assert "display.width" in err                      # cut (here or at the settings)
    assert one_line("a\n  b\tc") == "a b c" and len(one_line("x" * 999)) == MESSAGE_MAX_CHARS


def test_a_toml_datetime_phase_start_is_its_date_and_the_gate_decides(tmp_path):
    prog = _program(tmp_path, 'patient = "P15"\nphase_started = 2026-01-05T10:00:00\n' + STEP)
    program = load_program(prog)
    assert program.phase_started == date(2026, 1, 5) and type(program.phase_started) is date
    assert gate(program, [{"date": "2026-01-06", "phase": "laterality"}]).phase == "laterality"
    run = _run_session(_session(tmp_path, "--program", str(prog)))
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert "error" not in summary["gate"] and summary["gate"]["phase"] == "laterality"
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert len(q.gate_history(db, "P15")) == 1
    finally:
        db.close()


def test_a_toml_time_of_day_phase_start_is_one_line(tmp_path):
    prog = _program(tmp_path, 'patient = "P15"\nphase_started = 10:00:00\n' + STEP)
    with pytest.raises(ProgramError) as err:
        load_program(prog)
    assert "phase_started" in str(err.value) and "\n" not in str(err.value)
