"""The program across sessions in the records (vrgmi.records.programs), on SQLite and on a real
PostgreSQL server (tests/pg_server.py): save and load, per-session summaries rebuilt from the
stored rows, gating after a session, a therapist's override kept."""
from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from pg_server import pg_url  # noqa: F401  (fixture)
from records_data import _events
from session_steps import step_until
from vrgmi.app import Engine
from vrgmi.control import Command, CommandQueue, StatusBoard
from vrgmi.events import EventBus
from vrgmi.program import (ImageryGate, LateralityGate, Program, ProgramError, SceneStep,
                           override)
from vrgmi.records import RecordSink, UnknownPatient, open_database
from vrgmi.records.db import RecordsError
from vrgmi.records import queries as q
from vrgmi.records.programs import close_session, load_program, save_program, \
    session_summaries
from vrgmi.records.schema import GateDecision, PatientIdError
from vrgmi.records.schema import Program as ProgramRow
from vrgmi.scenes.breathing import Breathing, CalmView
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.ssq import SSQ
from vrgmi.session import SessionRunner, session_summary
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'records.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_url"))
    database = open_database(url)
    yield database
    database.close()


def _store(db, tmp_path, events, patient=None):
    sink = RecordSink(db, patient=patient, spill_path=tmp_path / "spill.jsonl")
    for e in events:
        sink.put(e)
    sink.close()
    assert sink.error is None


def _program(**kw):
    return Program("P01", phase=kw.pop("phase", "laterality"),
                   phase_started=kw.pop("phase_started", date(2026, 3, 1)), **kw)


def test_save_and_load_round_trip(db):
    q.upsert_patient(db, "P01", side="right", level="transtibial")
    assert load_program(db, "P01") is None and load_program(db, "P99") is None
    program = _program(minutes_per_session=12.5, breathing_between_blocks=False,
                       steps={"laterality": [SceneStep("laterality", 4.0,
                                                       {"max_rotation_deg": 120})],
                              "mirror": [SceneStep("foot_targets", 3.0)]},
                       laterality=LateralityGate(min_accuracy=0.85, stable_days=5),
                       imagery=ImageryGate(min_sessions=6),
                       overrides=[{"date": "2026-03-05", "phase": "laterality",
                                   "advance": False, "by": "th1", "reason": "tired"}])
    save_program(db, program)
    assert load_program(db, "P01") == program
    later = _program(phase="imagery", phase_started=date(2026, 3, 20))
    save_program(db, later)
    assert load_program(db, "P01") == later                  # the newest is in force
    assert q.get_patient(db, "P01")["program"]["phase"] == "imagery"
    with db.session() as s:
        assert s.scalar(select(func.count(ProgramRow.id))) == 2   # the old one is history


def test_a_program_set_by_the_companion_loads_from_its_columns(db):
    q.upsert_patient(db, "P01")
    q.set_program(db, "P01", "imagery", sessions_per_day=4, minutes_per_session=12,
                  gating={"imagery": {"min_sessions": 8}, "note": "ignored"})
    program = load_program(db, "P01")
    assert (program.phase, program.sessions_per_day, program.minutes_per_session) == \
        ("imagery", 4, 12.0)
    assert program.imagery.min_sessions == 8 and program.steps == Program("x").steps


def test_bad_programs_and_patients_are_one_line_errors(db):
    with pytest.raises(UnknownPatient, match="no patient 'P01' in the records"):
        save_program(db, _program())
    with pytest.raises(PatientIdError):
        load_program(db, "Jane Doe")
    q.upsert_patient(db, "P01")
    program = _program()
    program.minutes_per_session = 90
    with pytest.raises(ProgramError, match="minutes_per_session = 90 must be a number 1..30"):
        save_program(db, program)


def test_set_program_applies_the_program_validator(db):
    """One validator: what load_program refuses, set_program refuses (it took 45 min)."""
    q.upsert_patient(db, "P01")
    for kw in ({"minutes_per_session": 45}, {"minutes_per_session": 30.5},
               {"sessions_per_day": 0}, {"gating": {"laterality": {"min_accuracy": 2}}}):
        with pytest.raises(RecordsError) as err:
            q.set_program(db, "P01", "laterality", **kw)
        assert "\n" not in str(err.value) and "must be" in str(err.value)
    assert load_program(db, "P01") is None                 # nothing was written
    q.set_program(db, "P01", "laterality", minutes_per_session=30)
    assert load_program(db, "P01").minutes_per_session == 30.0


def test_summaries_from_the_stored_history_equal_those_of_the_events(db, tmp_path):
    events = _events("P01", 8)
    _store(db, tmp_path, events)
    by_session = defaultdict(list)
    for e in events:
        by_session[e.session].append(e)
    expected = [session_summary(evs) for evs in by_session.values()]
    got = session_summaries(db, "P01")
    assert got == expected
    assert got[0]["laterality"]["accuracy"] == {"left": 0.5, "right": 0.6}
    assert got[3]["imagery"]["ratio"] == pytest.approx(4.15 / 3.2)
    assert session_summaries(db, "P02") == []


@pytest.fixture
def runner_on(display, tmp_path):
    made = []

    def make(db, program, **kw):
        settings = load_settings(None, {"safety.ssq_baseline": False})
        engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
        sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
        registry = {c.name: c for c in (PainNRS, SSQ, Breathing, CalmView, FreeMirror)}
        runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                               registry=registry, sinks=[sink], **kw)
        made.append((runner, engine))
        return runner, sink

    yield make
    for runner, engine in made:
        runner.close()
        engine.close()


def test_summary_of_a_real_session_equals_the_stored_one(db, runner_on):
    program = Program("P07", phase="mirror", breathing_between_blocks=False,
                      steps={"mirror": [SceneStep("free_mirror", 0.1),
                                        SceneStep("free_mirror", 0.1)]})
    runner, sink = runner_on(db, program)
    runner.start(0.0)
    for action in ("right", "select"):        # nothing is pre-selected
        runner.engine.inputs.push(action, 0.1, "script")
    t = step_until(runner, 0.0, lambda: runner.scene.name == "free_mirror")
    runner.commands.put(Command("skin_tone", {"tone": "V"}))
    runner.commands.put(Command("stop"))                # the second block is skipped
    t = step_until(runner, t, lambda: runner.scene.name == "pain_nrs")
    for action in ("right", "select"):        # nothing is pre-selected
        runner.engine.inputs.push(action, t, "script")
    t = step_until(runner, t, lambda: runner.scene is not None and runner.scene.name == "ssq")
    for _ in range(16):
        for action in ("right", "select"):        # nothing is pre-selected
            runner.engine.inputs.push(action, t, "script")
    step_until(runner, t, lambda: runner.done)
    summary = runner.close()
    assert sink.error is None and sink.written == len(runner.events.history)
    assert [s["reason"] for s in summary["scenes"]] == ["completed", "stopped", "skipped",
                                                        "completed", "completed"]
    (stored,) = session_summaries(db, "P07")
    assert stored == summary
    assert q.get_patient(db, "P07")["skin_tone"] == "V"       # the therapist's change kept


def _lat_summary(day, acc=0.9, rt=1.8, session=None):
    return {"session": session or f"s-{day}", "date": day, "phase": "laterality",
            "laterality": {"accuracy": {"left": acc, "right": acc},
                           "rt_s": {"left": rt, "right": rt}, "trials": {"left": 20,
                                                                         "right": 20}}}


def test_close_session_advances_only_when_the_criteria_are_met(db):
    q.upsert_patient(db, "P01")
    program = _program(laterality=LateralityGate(stable_days=1, min_phase_days=14))
    save_program(db, program)
    # day 10 of the phase: every skill criterion met, but not yet two weeks
    early = close_session(db, program, _lat_summary("2026-03-10"))
    assert not early.advance and early.criteria["phase_length"].value == 10
    assert early.reasons == ["10 of at least 14 days in the laterality phase"]
    assert load_program(db, "P01") == program                 # still laterality
    # day 15, but the weaker side is at 70 %
    weak = close_session(db, program, _lat_summary("2026-03-15", acc=0.7))
    assert not weak.advance and not weak.criteria["accuracy"].met
    # day 16: all met -> imagery, started that day
    ready = close_session(db, program, _lat_summary("2026-03-16"), by="th-auto")
    assert ready.advance and ready.next_phase == "imagery"
    now = load_program(db, "P01")
    assert (now.phase, now.phase_started) == ("imagery", date(2026, 3, 16))
    assert now.steps == program.steps and now.laterality == program.laterality
    gates = q.gate_history(db, "P01")
    assert [(g["advance"], g["override"], g["next_phase"]) for g in gates] == [
        (False, False, "imagery"), (False, False, "imagery"), (True, False, "imagery")]
    assert gates[-1]["by"] == "th-auto" and gates[-1]["reasons"] == [
        "all laterality criteria met: ready for imagery"]
    assert gates[-1]["criteria"]["accuracy"]["met"] is True
    # closing the same session again records nothing new
    again = close_session(db, program, _lat_summary("2026-03-16"))
    assert again.advance and len(q.gate_history(db, "P01")) == 3
    assert load_program(db, "P01").phase == "imagery"


def test_close_session_reads_the_stored_history(db, tmp_path):
    q.upsert_patient(db, "P01")
    _store(db, tmp_path, _events("P01", 3))        # laterality 50-60 % correct, RT ~2.8 s
    program = _program(phase_started=date(2026, 3, 1),
                       laterality=LateralityGate(stable_days=1, min_phase_days=0))
    history = session_summaries(db, "P01")
    decision = close_session(db, program, history[-1])
    assert not decision.advance
    assert decision.criteria["accuracy"].value == pytest.approx(0.6)    # session 3's left
    assert decision.criteria["response_time"].met is False
    with db.session() as s:
        row = s.scalars(select(GateDecision).where(GateDecision.by == "vrgmi")).one()
        assert row.session_id == "P01-s03" and row.phase == "laterality"
    assert load_program(db, "P01") == program        # the first close saves the program


def test_a_therapist_override_persists(db, tmp_path):
    q.upsert_patient(db, "P01")
    program = _program()
    save_program(db, program)
    sink = RecordSink(db, patient="P01", spill_path=tmp_path / "spill.jsonl")
    bus = EventBus("P01-s09", [sink])
    bus.emit("session_started", 0.0, {"patient": "P01", "phase": "laterality"})
    moved = override(program, True, "th1", "patient ready early", bus, 3.0,
                     today=date(2026, 3, 9))
    sink.close()
    save_program(db, moved)                                  # what on_program_change does
    now = load_program(db, "P01")
    assert (now.phase, now.phase_started) == ("imagery", date(2026, 3, 9))
    assert now.overrides == [{"date": "2026-03-09", "phase": "laterality", "advance": True,
                              "by": "th1", "reason": "patient ready early"}]
    (gate,) = q.gate_history(db, "P01")
    assert (gate["override"], gate["advance"], gate["by"], gate["reason"]) == \
        (True, True, "th1", "patient ready early")
    assert gate["next_phase"] == "imagery" and gate["session"] == "P01-s09"
    assert now.phase_started - program.phase_started == timedelta(days=8)


def test_a_crashed_session_with_a_flaring_pain_check_holds_the_phase(db, tmp_path):
    """No post NRS and no session_finished (the crash): the stored pre NRS and in-session
    pain check still give the flare, and the next gate holds the phase."""
    from vrgmi.events import Event
    from records_data import DAY0

    q.upsert_patient(db, "P01")
    program = _program(phase="imagery", phase_started=date(2026, 3, 1),
                       imagery=ImageryGate(min_sessions=0, min_phase_days=0, min_kviq_mean=1.0))
    save_program(db, program)
    sid = "P01-crash"
    _store(db, tmp_path, [
        Event("session_started", 0.0, {"patient": "P01", "phase": "imagery"}, "", sid, DAY0),
        Event("questionnaire", 1.0, {"instrument": "nrs", "moment": "pre", "answers": [2],
                                     "scores": {"nrs": 2}}, "pain_nrs", sid, DAY0 + 1),
        Event("questionnaire", 60.0, {"instrument": "nrs", "moment": "check", "answers": [6],
                                      "scores": {"nrs": 6}}, "pain_nrs", sid, DAY0 + 60)])
    (crashed,) = session_summaries(db, "P01")
    assert crashed["reason"] is None and crashed["nrs_check"] == 6
    assert crashed["pain_flare"] is True
    good = {"session": "P01-next", "date": "2026-03-03", "phase": "imagery",
            "imagery": {"ratio": 1.0, "trials": 10, "kviq_mean": 4.0}}
    held = close_session(db, program, good, today=date(2026, 3, 3), flare_hold_days=3)
    assert not held.advance and not held.criteria["no_pain_flare"].met
    assert load_program(db, "P01").phase == "imagery"
    later = close_session(db, program, dict(good, session="P01-later", date="2026-03-06"),
                          today=date(2026, 3, 6), flare_hold_days=3)
    assert later.criteria["no_pain_flare"].met and later.advance
