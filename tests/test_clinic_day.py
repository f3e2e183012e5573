"""A day of sessions without touching the PC: a session ends, the day idles on the calm view,
the therapist's Start (with a patient id) begins the next session for that patient."""
from __future__ import annotations

import pytest

from vrgmi.app import Engine
from vrgmi.clinic import IDLE_MESSAGE, ClinicDay, ClinicServices
from vrgmi.companion.commands import CommandRejected, check_command
from vrgmi.control import Command
from vrgmi.events import read_events
from vrgmi.program import Program, SceneStep
from vrgmi.records import open_database, queries
from vrgmi.records.programs import save_program
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

DT = 1.0 / 30.0
SSQ_NONE = ["right", "select"] * 16      # nothing is pre-selected: right picks "None"
NRS_ZERO = ["right", "select"]


def short_program(patient: str) -> Program:
    return Program(patient, phase="mirror", breathing_between_blocks=False,
                   steps={"mirror": [SceneStep("free_mirror", 0.1)]})


@pytest.fixture
def clinic(display, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite'}")
    queries.upsert_patient(db, "P1", side="left", level="transradial", height_m=1.75)
    queries.upsert_patient(db, "P2", side="right", level="transtibial", height_m=1.8,
                           skin_tone="V")
    save_program(db, short_program("P2"))
    settings = load_settings(None, {"patient.id": "P1"})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    services = ClinicServices(db=db)
    made = []

    def make(stay_open: bool = True) -> ClinicDay:
        day = ClinicDay(services, engine, short_program("P1"), tmp_path, block_seconds=1.0,
                        stay_open=stay_open)
        made.append(day)
        return day

    yield make, services, engine, db, tmp_path
    for day in made:
        day.close()
    engine.close()
    db.close()


def run_session_through(day: ClinicDay, t: float) -> tuple[float, bool]:
    """Answer the NRS before and after and the SSQ until the session ends; (time, step's
    last answer)."""
    runner = day.runner
    answered: set[tuple[str, int]] = set()
    for _ in range(2000):
        scene = runner.scene
        key = (scene.name, runner.index) if scene is not None else None
        if key is not None and key not in answered and scene.name in ("pain_nrs", "ssq"):
            answered.add(key)
            for action in (NRS_ZERO if scene.name == "pain_nrs" else SSQ_NONE):
                day.engine.inputs.push(action, t + DT, "script")
        alive = day.step(t, DT)
        t += DT
        if day.idle or not alive:
            return t, alive
    raise AssertionError("the session did not end")


def test_a_day_of_two_patients_without_touching_the_pc(clinic):
    make, services, engine, db, out = clinic
    day = make()
    t, alive = run_session_through(day, 0.0)
    first = day.summaries[0]
    assert alive and day.idle and first["reason"] == "completed"
    # idle: the patient sees the calm "finished" view, the board says idle + last session
    assert engine.scene.name == "calm" and engine.scene.difficulty["text"] == "finished"
    assert engine.world.is_hidden()
    _seq, status = services.board.status()
    assert status["state"] == "idle" and status["session"] == first["session"]
    assert status["patient"] == "P1" and status["scene"] == ""
    for _ in range(5):                                   # idling goes on, frame after frame
        assert day.step(t, DT)
        t += DT
    assert engine.scene.name == "calm" and services.board.status()[1]["state"] == "idle"
    # anything but Start while idle: a one-line message, nothing else
    services.commands.put(Command("set_param", {"name": "speed", "value": 2}))
    services.commands.put(Command("emergency_stop"))
    assert day.step(t, DT)
    t += DT
    assert day.idle and day.message == f"emergency_stop: {IDLE_MESSAGE}"
    assert services.board.status()[1]["message"] == f"emergency_stop: {IDLE_MESSAGE}"
    # Start for P2 (right transtibial in the records): the engine switches to them
    services.commands.put(Command("start", {"patient": "P2"}))
    assert day.step(t, DT)
    t += DT
    assert not day.idle
    p = engine.settings.patient
    assert (p.id, p.amputation_side, p.amputation_level, p.height_m, p.skin_tone) == \
        ("P2", "right", "transtibial", 1.8, "V")
    assert engine.core.limb == "leg" and not engine.world.is_hidden()
    assert day.runner.session != first["session"]
    assert day.runner.program.steps == short_program("P2").steps      # from the records
    t, alive = run_session_through(day, t)
    second = day.summaries[1]
    assert alive and day.idle and second["reason"] == "completed"
    assert services.board.status()[1]["session"] == second["session"]
    # both sessions in the records under their patients, each with its own JSONL log
    assert [s["id"] for s in queries.list_sessions(db, "P1")] == [first["session"]]
    assert [s["id"] for s in queries.list_sessions(db, "P2")] == [second["session"]]
    for summary, patient in ((first, "P1"), (second, "P2")):
        events = list(read_events(out / f"events-{summary['session']}.jsonl"))
        assert events[0]["kind"] == "session_started" and events[-1]["kind"] == \
            "session_finished"
        assert events[0]["data"]["patient"] == patient
        assert {e["session"] for e in events} == {summary["session"]}
    assert second["patient"] == "P2" and first["patient"] == "P1"


def test_a_new_patient_is_created_with_the_current_settings_and_close_stops(clinic):
    make, services, engine, db, _out = clinic
    day = make()
    t, _alive = run_session_through(day, 0.0)
    services.commands.put(Command("start", {"patient": "P3-new"}))
    for _ in range(10):
        assert day.step(t, DT)
        t += DT
    record = queries.get_patient(db, "P3-new")
    assert (record["amputation_side"], record["amputation_level"]) == ("left", "transradial")
    assert engine.settings.patient.id == "P3-new" and day.runner.scene.name == "pain_nrs"
    summary = day.close()                         # the day ends mid-session: stopped, kept
    assert summary["reason"] == "stopped" and summary["patient"] == "P3-new"
    assert [s["id"] for s in queries.list_sessions(db, "P3-new")] == [summary["session"]]


def test_without_a_companion_the_day_ends_with_the_session(clinic):
    make, services, engine, _db, _out = clinic
    day = make(stay_open=False)
    _t, alive = run_session_through(day, 0.0)
    assert not alive and day.idle and day.summaries[0]["reason"] == "completed"
    assert engine.scene.name != "calm"            # no idle view: the loops end now


def test_start_takes_a_pseudonymous_patient_id_only():
    ok = check_command({"command": "start", "args": {"patient": "P-07_b"}}, {}, {}, by="t")
    assert ok.name == "start" and ok.args == {"patient": "P-07_b"}
    assert check_command({"command": "start"}, {}, {}, by="t").args == {}
    for bad in ("John Smith", "anna.berg@example.org", "", "x" * 65, 7, None):
        with pytest.raises(CommandRejected) as exc:
            check_command({"command": "start", "args": {"patient": bad}}, {}, {}, by="t")
        message = str(exc.value)
        assert "\n" not in message and message.startswith("start: patient id")
        assert "pseudonym" in message
    with pytest.raises(CommandRejected, match="no scene 'nope'"):
        check_command({"command": "start", "args": {"scene": "nope", "patient": "P1"}}, {},
                      {"free_mirror": {}}, by="t")


def test_start_past_the_sessions_per_day_is_refused_unless_overridden(clinic):
    make, services, engine, db, out = clinic
    day = make()
    day.runner.program.sessions_per_day = 1
    t, _ = run_session_through(day, 0.0)
    assert day.idle
    services.commands.put(Command("start", {"patient": "P1"}))
    day.step(t, DT)
    assert day.idle and "P1 has had 1 of 1 sessions today" in day.message
    assert "override" in services.board.status()[1]["message"]
    services.commands.put(Command("start", {"patient": "P1", "override": True}))
    day.step(t + DT, DT)
    assert not day.idle and day.runner.program.patient == "P1"


def test_step_back_between_sessions_is_saved_in_the_records(clinic):
    make, services, engine, db, out = clinic
    day = make()
    t, _ = run_session_through(day, 0.0)
    services.commands.put(Command("step_back", {"phase": "mirror", "reason": "flare"},
                                  by="companion:t1"))
    day.step(t, DT)
    assert "now in imagery" in day.message
    from vrgmi.records.programs import load_program
    saved = load_program(db, "P1")
    assert saved.phase == "imagery" and saved.overrides[-1]["by"] == "companion:t1"
