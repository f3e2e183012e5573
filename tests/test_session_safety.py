"""The session's safety rules on the real engine and runner (headless display): the
patient's stop, the headset taken off, the therapist's pain check, the pain-flare rule on
any end, the dose limits and warnings, the SSQ baseline and alerts, sessions per day."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from vrgmi.app import Engine
from vrgmi.clinic import ClinicServices
from vrgmi.control import Command, CommandQueue, StatusBoard
from vrgmi.events import EventBus
from vrgmi.program import Program, ProgramError, SceneStep, gate, step_back
from vrgmi.records import open_database
from vrgmi.records import queries as q
from vrgmi.records.schema import Session as SessionRow
from vrgmi.scenes.breathing import Breathing, CalmView
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.ssq import SSQ
from vrgmi.session import SessionError, SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

DT = 1.0 / 30.0
REGISTRY = {c.name: c for c in (PainNRS, SSQ, Breathing, CalmView, FreeMirror)}
SSQ_NONE = ["right", "select"] * 16


@pytest.fixture
def make(display, tmp_path):
    made = []

    def _make(steps, phase="mirror", settings=None, **kw):
        overrides = {"safety.ssq_baseline": False, **(settings or {})}
        program = Program("p01", phase=phase, breathing_between_blocks=False,
                          steps={phase: steps}, **kw)
        engine = Engine(load_settings(None, overrides),
                        ScriptedSource("reach", intact_side="right"), display)
        changed = []
        runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                               registry=REGISTRY, on_program_change=changed.append)
        made.append((runner, engine))
        return runner, engine, changed

    yield _make
    for runner, engine in made:
        runner.close()
        engine.close()


def run_until(runner, t, cond, limit_s=120.0):
    end = t + limit_s
    while t < end:
        if cond():
            return t
        if not runner.step(t, DT, render=False):
            return t
        t += DT
    raise AssertionError("condition not reached")


def steps(runner, t, seconds):
    for _ in range(round(seconds / DT)):
        runner.step(t, DT, render=False)
        t += DT
    return t


def at(runner, name, moment=None):
    def cond():
        s = runner.scene
        return s is not None and s.name == name and (
            moment is None or s.inner.difficulty["moment"] == moment)
    return cond


def answer(runner, t, actions):
    for a in actions:
        runner.engine.inputs.push(a, t, "script")


def kinds(runner, kind):
    return [e for e in runner.events.history if e.kind == kind]


def start_block(runner, pre=2):
    """Start, answer the pre NRS with ``pre``, run into the first block."""
    runner.start(0.0)
    answer(runner, 0.1, ["right"] * (pre + 1) + ["select"])
    return run_until(runner, 0.0, at(runner, "free_mirror"))


def test_menu_hold_shows_its_ring_then_stops_to_the_calm_view(make):
    runner, engine, _ = make([SceneStep("free_mirror", 2.0)])
    t = start_block(runner)
    answer(runner, t, ["menu"])
    t = run_until(runner, t, lambda: runner.controls.hold.held_s(runner.t) >= 1.5)
    assert not engine._notice.root.is_hidden()                 # the ring in the headset
    assert engine._notice.panel.text.get_text() == "Recentred - keep holding to stop"
    assert runner.scene.name == "free_mirror" and runner.state == "running"
    t = run_until(runner, t, at(runner, "pain_nrs", "post"))
    assert runner.controls.hold.held_s(t) == pytest.approx(2.5, abs=2 * DT)
    assert engine.world.is_hidden()                            # the room and limbs are gone
    assert runner.scene.inner.difficulty["skippable"] is True
    answer(runner, t, ["menu_release", "back"])                # not willing: skip it
    t = run_until(runner, t, lambda: runner.done)
    (stop,) = kinds(runner, "patient_stop")
    assert stop.data["source"] == "menu_hold" and stop.data["by"] == "patient"
    (fin,) = kinds(runner, "session_finished")
    assert fin.data["reason"] == "patient_stop" and fin.data["by"] == "patient"
    assert fin.data["nrs_post"] is None and "pain_flare" not in fin.data
    assert engine.scene.name == "calm" and engine._notice.root.is_hidden()
    ends = {e.scene: e.data["reason"] for e in kinds(runner, "scene_finished")}
    assert ends["ssq"] == "skipped" and ends["pain_nrs"] == "completed"
    summary = runner.close()
    assert summary["reason"] == "patient_stop" and summary["nrs_post"] is None
    assert runner.board.status()[1]["alerts"][0]["kind"] == "patient_stop"


def test_stop_key_then_an_answered_post_nrs_that_is_a_flare(make):
    runner, engine, _ = make([SceneStep("free_mirror", 2.0)])
    t = start_block(runner, pre=2)
    answer(runner, t + 0.5, ["pause"])
    t = run_until(runner, t, at(runner, "pain_nrs", "post"))
    answer(runner, t, ["right"] * 6 + ["select"])              # 5: a rise of 3
    t = run_until(runner, t, lambda: runner.done)
    (fin,) = kinds(runner, "session_finished")
    assert (fin.data["reason"], fin.data["nrs_pre"], fin.data["nrs_post"]) == \
        ("patient_stop", 2, 5)
    assert fin.data["pain_flare"] is True
    (flare,) = kinds(runner, "pain_flare")
    assert flare.data["moment"] == "post" and flare.data["rise"] == 3
    assert kinds(runner, "patient_stop")[0].data["source"] == "key"
    assert runner.close()["pain_flare"] is True


def test_headset_off_pauses_then_ends_the_session_past_the_setting(make):
    runner, engine, _ = make([SceneStep("free_mirror", 2.0)],
                             settings={"safety.headset_off_end_s": 5})
    t = start_block(runner)
    engine.focus_lost = True
    t = steps(runner, t, 4.0)
    assert runner.state == "running" and not runner.done          # a pause only
    engine.focus_lost = False
    t = steps(runner, t, 1.0)
    engine.focus_lost = True
    t = run_until(runner, t, lambda: runner.done, limit_s=10.0)
    (fin,) = kinds(runner, "session_finished")
    assert fin.data["reason"] == "headset_removed" and fin.data["by"] == "system"
    paused = [e.t for e in kinds(runner, "session_paused")]
    assert len(paused) == 2 and fin.t - paused[1] == pytest.approx(5.0, abs=2 * DT)
    assert engine.scene.name == "calm"


def test_pain_check_waits_the_block_and_a_flare_counts_after_an_emergency_stop(make):
    runner, engine, _ = make([SceneStep("free_mirror", 1.0)])
    t = start_block(runner, pre=2)
    t = run_until(runner, t, lambda: runner.block_s >= 2.0)
    block = runner.scene
    runner.commands.put(Command("pain_check"))
    runner.step(t, DT, render=False)
    t += DT
    assert engine.scene.name == "pain_nrs" and engine.scene.inner.difficulty["moment"] == "check"
    waited = runner.block_s
    t = steps(runner, t, 2.0)                                    # 2 s unanswered
    assert runner.block_s == waited and runner.scene is block   # the block waits
    answer(runner, t, ["left"] * 3 + ["select"])                 # (none) 10 -> 8
    t = run_until(runner, t, lambda: engine.scene is block)
    assert block.ctx is not None and not block.ctx.root.is_hidden()
    (flare,) = kinds(runner, "pain_flare")
    assert (flare.data["moment"], flare.data["nrs"], flare.data["rise"]) == ("check", 8, 6)
    assert runner.board.status()[1]["alerts"][-1]["kind"] == "pain_flare"
    t = run_until(runner, t, lambda: runner.block_s >= waited + 1.0)   # the block goes on
    runner.commands.put(Command("emergency_stop"))
    run_until(runner, t, lambda: runner.done)
    (fin,) = kinds(runner, "session_finished")
    assert fin.data["reason"] == "emergency_stop" and fin.data["nrs_post"] is None
    assert fin.data["nrs_check"] == 8 and fin.data["pain_flare"] is True
    assert len(kinds(runner, "pain_flare")) == 1                 # one prompt per session
    summary = runner.close()
    assert summary["pain_flare"] is True and summary["nrs_check"] == 8


def test_a_flare_steps_the_program_back_when_the_settings_say_so(make):
    runner, engine, changed = make([SceneStep("free_mirror", 1.0)], phase="imagery",
                                   settings={"safety.flare_action": "step_back"})
    t = start_block(runner, pre=1)
    runner.commands.put(Command("pain_check"))
    runner.step(t, DT, render=False)
    answer(runner, t + DT, ["right"] * 5 + ["select"])          # 4: a rise of 3
    t = run_until(runner, t, lambda: runner._check is None and kinds(runner, "pain_flare"))
    runner.commands.put(Command("stop"))
    t = run_until(runner, t, at(runner, "pain_nrs", "post"))
    answer(runner, t, ["right"] * 5 + ["select"])
    t = run_until(runner, t, at(runner, "ssq", "post"))
    answer(runner, t, SSQ_NONE)
    run_until(runner, t, lambda: runner.done)
    assert runner.program.phase == "laterality" and changed[-1] is runner.program
    (back,) = kinds(runner, "phase_step_back")
    assert back.data["to"] == "laterality" and back.data["by"] == "vrgmi"
    assert runner.program.overrides[-1]["step_back"] is True


def test_therapist_step_back_command_is_recorded(make):
    runner, engine, changed = make([SceneStep("free_mirror", 1.0)], phase="mirror")
    t = start_block(runner)
    runner.commands.put(Command("step_back", {"phase": "mirror", "reason": "pain up"},
                                by="companion:abc"))
    runner.step(t, DT, render=False)
    assert runner.program.phase == "imagery" and changed == [runner.program]
    record = runner.program.overrides[-1]
    assert (record["by"], record["reason"], record["to"]) == ("companion:abc", "pain up",
                                                              "imagery")


def test_blocks_are_fitted_within_the_session_minutes_with_a_warning(make):
    """1.5 min with 3 x 0.6 min blocks runs 1.5 min, not 1.8 (the 15 min / 3 x 6 case)."""
    runner, engine, _ = make([SceneStep("free_mirror", 0.6)] * 3, minutes_per_session=1.5,
                             settings={"safety.dose_warning_min": 0.5})
    t = start_block(runner)
    t = run_until(runner, t, lambda: kinds(runner, "dose_warning"))
    (warning,) = kinds(runner, "dose_warning")
    assert warning.data["seconds_left"] == pytest.approx(30.0, abs=2 * DT)
    assert not engine._notice.root.is_hidden()
    assert "minute" in engine._notice.panel.text.get_text()
    assert runner.board.status()[1]["alerts"][-1]["kind"] == "dose"
    t = run_until(runner, t, at(runner, "pain_nrs", "post"))
    starts = [e.t for e in kinds(runner, "scene_started") if e.scene == "free_mirror"]
    ends = [e.t for e in kinds(runner, "scene_finished") if e.scene == "free_mirror"]
    assert sum(b - a for a, b in zip(starts, ends)) == pytest.approx(90.0, abs=3 * DT)
    assert ends[-1] - starts[-1] == pytest.approx(18.0, abs=2 * DT)   # the last one trimmed


def test_the_hard_cap_ends_the_blocks_at_the_session_limit(make):
    """Blocks longer than the limit (the 2 x 29 min case) stop at safety.session_max_min."""
    runner, engine, _ = make([SceneStep("free_mirror", 1.4)] * 2, minutes_per_session=3.0,
                             settings={"safety.session_max_min": 1.0})
    t = start_block(runner)
    t = run_until(runner, t, at(runner, "pain_nrs", "post"))
    assert t <= 60.0 + 2 * DT
    answer(runner, t, ["right", "select"])
    t = run_until(runner, t, at(runner, "ssq", "post"))
    answer(runner, t, SSQ_NONE)
    run_until(runner, t, lambda: runner.done)
    assert kinds(runner, "session_finished")[0].data["reason"] == "time_limit"
    mirror = [e for e in kinds(runner, "scene_started") if e.scene == "free_mirror"]
    assert len(mirror) == 1                                   # the second never started


def test_ssq_baseline_first_with_no_preselected_answer_and_an_alert(make):
    runner, engine, _ = make([SceneStep("free_mirror", 0.2)],
                             settings={"safety.ssq_baseline": True})
    runner.start(0.0)
    answer(runner, 0.1, ["select"] * 3)                       # nothing chosen: no answer
    t = run_until(runner, 0.0, lambda: runner._frames > 20)
    assert runner.scene.name == "pain_nrs" and runner.scene.inner.answer is None
    answer(runner, t, ["right", "select"])
    t = run_until(runner, t, at(runner, "ssq", "pre"))
    answer(runner, t, ["select"] * 16)                        # 16 confirms record nothing
    t = run_until(runner, t, lambda: runner._frames > 60)
    assert runner.scene.inner.item == 0 and runner.scene.inner.answers == [None] * 16
    answer(runner, t, ["left", "select"] + ["right", "select"] * 15)   # item 1 severe
    t = run_until(runner, t, at(runner, "free_mirror"))
    (alert,) = kinds(runner, "ssq_alert")
    assert alert.data["moment"] == "pre" and "severe general discomfort" in alert.data["reasons"]
    assert "ending or shortening" in alert.data["advice"]
    status = runner.board.status()[1]
    assert status["alerts"][-1]["kind"] == "ssq"


def test_gate_holds_the_phase_after_a_flare_and_step_back_records_it():
    program = Program("p01", phase="imagery", phase_started=date(2026, 1, 1))
    flare = {"session": "s1", "date": "2026-02-01", "phase": "imagery", "pain_flare": True}
    held = gate(program, [flare], today=date(2026, 2, 2), flare_hold_days=3)
    assert not held.advance and not held.criteria["no_pain_flare"].met
    assert "until 2026-02-04" in held.criteria["no_pain_flare"].reason
    later = gate(program, [flare], today=date(2026, 2, 4), flare_hold_days=3)
    assert later.criteria["no_pain_flare"].met
    assert "no_pain_flare" not in gate(program, [], today=date(2026, 2, 4)).criteria
    bus = EventBus()
    back = step_back(program, "companion:x", "flare", bus, today=date(2026, 2, 2))
    assert (back.phase, back.phase_started) == ("laterality", date(2026, 2, 2))
    assert bus.history[-1].kind == "phase_step_back" and program.phase == "imagery"
    with pytest.raises(ProgramError, match="first phase"):
        step_back(back, "companion:x", "again", bus)
    with pytest.raises(ProgramError, match="reason"):
        step_back(program, "companion:x", " ", bus)


def test_sessions_per_day_are_checked_at_start(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite'}")
    try:
        q.upsert_patient(db, "p01")
        now = datetime.now(timezone.utc)
        with db.session() as s:
            for k in range(3):
                s.add(SessionRow(id=f"s{k}", patient_id="p01", started=now))
            s.add(SessionRow(id="old", patient_id="p01", started=now - timedelta(days=2)))
        assert q.sessions_on(db, "p01", date.today()) == 3
        services = ClinicServices(db=db)
        program = Program("p01", sessions_per_day=3)
        with pytest.raises(SessionError) as err:
            services.check_sessions_today(program)
        assert "3 of 3 sessions today" in str(err.value) and "\n" not in str(err.value)
        services.check_sessions_today(program, override=True)
        services.check_sessions_today(Program("p01", sessions_per_day=4))
    finally:
        db.close()


def test_the_ssq_chart_keeps_the_baseline_apart_from_the_after_session_scores():
    from vrgmi.export.plots import figure_ssq

    def ssq(session, moment, total):
        return {"session": session, "moment": moment, "total": total, "nausea": None,
                "oculomotor": None, "disorientation": None}

    progress = {"sessions": [{"id": "a"}, {"id": "b"}],
                "ssq": [ssq("a", "pre", 3.74), ssq("a", "post", 22.44),
                        ssq("b", "pre", 0.0), ssq("b", "post", 7.48)]}
    fig = figure_ssq(progress)
    lines = {ln.get_label(): list(zip(*ln.get_data())) for ln in fig.axes[0].get_lines()}
    assert lines["total"] == [(1, 22.44), (2, 7.48)]          # one point per session
    assert lines["total before (baseline)"] == [(1, 3.74), (2, 0.0)]


def test_desktop_keys_escape_stops_the_session_and_backspace_skips_the_post_nrs(display,
                                                                               tmp_path):
    """The desktop loop's own key bindings (sent through Panda3D's messenger as the window's
    keys are): answer the NRS, Escape is the patient's stop, Backspace skips the post NRS."""
    from vrgmi.app import DESKTOP_KEYS
    from vrgmi.clinic import run_desktop_day

    program = Program("p01", phase="mirror", breathing_between_blocks=False,
                      steps={"mirror": [SceneStep("free_mirror", 1.0)]})
    engine = Engine(load_settings(None, {"safety.ssq_baseline": False}),
                    ScriptedSource("reach", intact_side="right"), display)
    services = ClinicServices()
    day = services.day(engine, program, tmp_path, live=False)
    base = display.base
    # one key every few frames (the global clock's delays would bunch them into one frame
    # when the first frame is slow, as it is on a loaded machine)
    presses = {5: "arrow_right", 10: "enter", 30: "escape", 40: "backspace"}
    frame = iter(range(1_000_000))

    def press(task):
        key = presses.get(next(frame))
        if key is not None:
            base.messenger.send(key)
        return task.cont

    base.taskMgr.add(press, "press-keys")
    try:
        run_desktop_day(display, day, services, max_seconds=20.0)
        summary = day.close()
    finally:
        base.taskMgr.remove("press-keys")
        for key in (*DESKTOP_KEYS, "escape", "r"):
            base.ignore(key)
        engine.close()
    assert summary["reason"] == "patient_stop" and summary["nrs_pre"] == 0
    assert summary["nrs_post"] is None
    stop = [e for e in day.runner.events.history if e.kind == "patient_stop"]
    assert stop[0].data["source"] == "key"
