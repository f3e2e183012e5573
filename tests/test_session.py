"""A whole scripted session on the headless display: questionnaires, scenes, commands,
failures; the JSON Lines log; readable text."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from panda3d.core import TextNode

from vrgmi.app import Engine
from vrgmi.control import Command, CommandQueue, StatusBoard
from vrgmi.events import read_events
from vrgmi.program import Program, SceneStep
from vrgmi.render.display import grab_rgba
from vrgmi.render.ui import visual_angle_deg
from vrgmi.scenes.base import Scene
from vrgmi.scenes.breathing import Breathing, CalmView, breath_phase
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.schema import Param
from vrgmi.scenes.ssq import SSQ
from vrgmi.session import SessionError, SessionRunner, resolve_scene, session_summary
from vrgmi.settings import Settings, load_settings
from vrgmi.tracking.frame import PoseSource
from vrgmi.tracking.scripted import ScriptedSource

DT = 1.0 / 30.0


class Tiny(Scene):
    """A test scene with one parameter that counts its frames."""

    name = "tiny"
    phase = "mirror"
    params = (Param("speed", "int", 1, "test speed", lo=1, hi=5),)
    frames = 0

    def update(self, frame, dt):
        self.frames += 1


class Boom(Scene):
    """Raises in update on its third frame."""

    name = "boom"
    phase = "mirror"

    def update(self, frame, dt):
        self.n = getattr(self, "n", 0) + 1
        if self.n == 3:
            raise RuntimeError("sensor exploded\nsecond line")


class BadSetup(Scene):
    name = "bad_setup"
    phase = "mirror"

    def setup(self, ctx):
        super().setup(ctx)
        raise KeyError("no such texture")

    def update(self, frame, dt):
        pass


class ArmOnly(Tiny):
    """A test scene that only works with arms."""

    name = "arm_only"
    limbs = ("arm",)


class HeadStill(PoseSource):
    """A patient sitting still, looking ahead; no controller tracked."""

    def poll(self, display_time, frame):
        frame.t = display_time
        frame.head[:] = (0.0, 0.0, 1.2, 0.0, 0.0, 0.0, 1.0)
        frame.head_valid = True
        return True


REGISTRY = {c.name: c for c in (PainNRS, SSQ, Breathing, CalmView, FreeMirror, Tiny, Boom,
                                BadSetup, ArmOnly)}


@pytest.fixture
def make(display, tmp_path):
    made = []

    def _make(steps, breathing=False, source=None, baseline=False, **kw):
        program = Program("p01", phase="mirror", breathing_between_blocks=breathing,
                          steps={"mirror": steps}, **kw)
        settings = load_settings(None, {"safety.ssq_baseline": baseline})
        engine = Engine(settings, source or ScriptedSource("reach", intact_side="right"),
                        display)
        runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                               registry=REGISTRY)
        made.append((runner, engine))
        return runner, engine

    yield _make
    for runner, engine in made:
        runner.close()
        engine.close()


def run_until(runner, t, cond, limit_s=60.0, render_every=0):
    """Step frames from ``t`` until ``cond()`` holds; returns the new time."""
    end = t + limit_s
    k = 0
    while t < end:
        if cond():
            return t
        render = bool(render_every) and k % render_every == 0
        if not runner.step(t, DT, render=render):
            return t
        t += DT
        k += 1
    raise AssertionError("condition not reached")


def at(runner, name):
    return lambda: runner.scene is not None and runner.scene.name == name


def answer(runner, t, actions):
    for a in actions:
        runner.engine.inputs.push(a, t, "script")


#: questionnaires start with nothing selected: the first right selects the lowest answer
SSQ_NONE = ["right", "select"] * 16
NRS_ZERO = ["right", "select"]
SSQ_WITH_BACK = (["right", "right", "select", "back", "right", "right", "select"]
                 + ["right", "select"] * 15)


def test_whole_session_events_and_log(make):
    runner, engine = make([SceneStep("free_mirror", 0.1)], baseline=True)
    runner.start(0.0)
    assert runner.scene.name == "pain_nrs"
    answer(runner, 0.2, ["left"] * 4 + ["select"])                      # (none) 10 -> 7
    t = run_until(runner, 0.0, at(runner, "ssq"))
    assert runner.scene.inner.difficulty["moment"] == "pre"            # the SSQ baseline
    answer(runner, t, SSQ_NONE)
    t = run_until(runner, t, at(runner, "free_mirror"), render_every=10)
    t = run_until(runner, t, at(runner, "pain_nrs"))
    assert runner.scene.inner.difficulty["moment"] == "post"
    answer(runner, t, ["right"] * 5 + ["select"])                       # (none) 0 -> 4
    t = run_until(runner, t, at(runner, "ssq"))
    answer(runner, t, SSQ_WITH_BACK)
    t = run_until(runner, t, lambda: runner.done)
    summary = runner.close()
    h = runner.events.history
    kinds = [(e.kind, e.scene) for e in h]
    assert kinds[0] == ("session_started", "") and kinds[-1] == ("session_finished", "")
    started = [e.scene for e in h if e.kind == "scene_started"]
    assert started == ["pain_nrs", "ssq", "free_mirror", "pain_nrs", "ssq"]
    assert all(e.data["reason"] == "completed" for e in h if e.kind == "scene_finished")
    nrs = [e.data for e in h if e.kind == "questionnaire" and e.data["instrument"] == "nrs"]
    assert [(d["moment"], d["answers"]) for d in nrs] == [("pre", [7]), ("post", [4])]
    assert nrs[0]["loinc"] == "72514-3" and 0.0 < nrs[0]["rt_s"] < 0.3
    base, ssq = [e.data for e in h if e.kind == "questionnaire" and e.data["instrument"] == "ssq"]
    assert base["moment"] == "pre" and base["answers"] == [0] * 16
    assert ssq["answers"] == [3] + [0] * 15                  # "back" changed item 1 to Severe
    # nausea and oculomotor both hold item 1: raw 3 each; total (3 + 3 + 0) x 3.74
    assert ssq["scores"]["nausea"] == pytest.approx(28.62)
    assert ssq["scores"]["total"] == pytest.approx(22.44)
    block = next(e for e in h if e.kind == "scene_finished" and e.scene == "free_mirror")
    started_at = next(e.t for e in h if e.kind == "scene_started" and e.scene == "free_mirror")
    assert block.t - started_at == pytest.approx(6.0, abs=2 * DT)        # 0.1 min
    fin = h[-1].data
    assert fin["reason"] == "completed" and fin["nrs_pre"] == 7 and fin["nrs_post"] == 4
    assert fin["pain_flare"] is False and fin["minutes"] == pytest.approx(t / 60.0, abs=0.01)
    logged = list(read_events(runner.log_path))
    assert runner.log_path.name == f"events-{runner.session}.jsonl"
    assert [(e["kind"], e["scene"]) for e in logged] == kinds
    assert all(e["session"] == runner.session for e in logged)
    assert summary["nrs_pre"] == 7 and summary["ssq_total"] == pytest.approx(22.44)
    assert summary["phase"] == "mirror" and summary["reason"] == "completed"
    assert session_summary(logged) == summary
    assert (runner.out_dir / f"summary-{runner.session}.json").exists()


def test_pause_resume_set_param_stop(make):
    runner, engine = make([SceneStep("tiny", 1.0), SceneStep("free_mirror", 1.0)])
    q, board = runner.commands, runner.board
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    t = run_until(runner, 0.0, at(runner, "tiny"))
    q.put(Command("pause"))
    t = run_until(runner, t, lambda: runner.state == "paused")
    frames = runner.scene.inner.frames
    for _ in range(10):
        runner.step(t, DT, render=False)
        t += DT
    assert engine.paused and runner.scene.inner.frames == frames      # frozen while paused
    assert board.status()[1]["state"] == "paused"
    q.put(Command("resume"))
    q.put(Command("set_param", {"name": "speed", "value": 99}))
    runner.step(t, DT, render=False)
    t += DT
    status = board.status()[1]
    assert status["state"] == "running" and not engine.paused
    assert "speed = 99 is out of range 1..5" in status["message"]
    assert status["scene"] == "tiny" and status["params"] == {"speed": 1}
    assert status["schema"][0]["name"] == "speed" and status["tracking"]["head"] is True
    q.put(Command("set_param", {"name": "speed", "value": 3}))
    runner.step(t, DT, render=False)
    t += DT
    assert runner.scene.inner.difficulty["speed"] == 3
    q.put(Command("stop"))
    runner.step(t, DT, render=False)
    t += DT
    assert runner.scene.name == "pain_nrs"                    # straight to the questionnaires
    answer(runner, t, NRS_ZERO)
    t = run_until(runner, t, at(runner, "ssq"))
    answer(runner, t, SSQ_NONE)
    run_until(runner, t, lambda: runner.done)
    h = runner.events.history
    assert [e.kind for e in h if e.kind.startswith("session_")] == [
        "session_started", "session_paused", "session_resumed", "session_finished"]
    assert h[-1].data["reason"] == "stopped"
    changed = [e.data for e in h if e.kind == "param_changed"]
    assert changed == [{"name": "speed", "old": 1, "new": 3, "by": "therapist"}]
    ends = {e.scene: e.data["reason"] for e in h if e.kind == "scene_finished"}
    assert ends["tiny"] == "stopped" and ends["free_mirror"] == "skipped"


def test_emergency_stop_shows_the_calm_view_in_the_same_frame(make, display):
    runner, engine = make([SceneStep("tiny", 1.0)])
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    t = run_until(runner, 0.0, at(runner, "tiny"))
    runner.step(t, DT)
    bright = grab_rgba(display.base, render=False)[..., :3].mean()
    runner.commands.put(Command("emergency_stop", by="patient"))
    assert runner.step(t + DT, DT) is False
    assert engine.world.is_hidden() and engine.paused
    assert isinstance(engine.scene, CalmView)
    dim = grab_rgba(display.base, render=False)[..., :3].mean()
    assert dim < 0.5 * bright and dim < 60
    h = runner.events.history
    assert h[-1].kind == "session_finished" and h[-1].data["reason"] == "emergency_stop"
    assert h[-1].t == pytest.approx(t + DT)
    assert [e.data["reason"] for e in h if e.kind == "scene_finished"][-1] == "stopped"
    assert runner.board.status()[1]["state"] == "emergency_stopped"
    runner.commands.put(Command("resume"))
    runner.step(t + 2 * DT, DT)
    assert "ended" in runner.board.status()[1]["message"] and engine.paused
    engine.set_scene(FreeMirror())          # leave the shared display as it was
    engine.world.show()


def test_failing_scenes_are_skipped_not_fatal(make, caplog):
    runner, engine = make([SceneStep("boom", 0.2), SceneStep("bad_setup", 0.2),
                           SceneStep("nowhere", 0.2), SceneStep("tiny", 0.2, {"speed": 9}),
                           SceneStep("free_mirror", 0.1)])
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    with caplog.at_level(logging.WARNING, "vrgmi.session"):
        t = run_until(runner, 0.0, at(runner, "free_mirror"))
    ends = [(e.scene, e.data["reason"], e.data["summary"]) for e in runner.events.history
            if e.kind == "scene_finished"]
    assert [(s, r) for s, r, _ in ends] == [("pain_nrs", "completed"), ("boom", "error"),
                                            ("bad_setup", "error"), ("nowhere", "error"),
                                            ("tiny", "error")]
    assert ends[1][2]["error"] == ("scene 'boom' failed in update: RuntimeError: "
                                   "sensor exploded")
    assert "KeyError" in ends[2][2]["error"] and "no scene named 'nowhere'" in ends[3][2]["error"]
    assert "speed = 9 is out of range" in ends[4][2]["error"]
    assert all("\n" not in r.getMessage() for r in caplog.records) and len(caplog.records) == 4
    t = run_until(runner, t, at(runner, "pain_nrs"))
    answer(runner, t, NRS_ZERO)
    t = run_until(runner, t, at(runner, "ssq"))
    answer(runner, t, SSQ_NONE)
    run_until(runner, t, lambda: runner.done)
    assert runner.events.history[-1].data["reason"] == "completed"


def test_breaks_switch_recenter_and_unsupported(make):
    runner, engine = make([SceneStep("tiny", 0.1), SceneStep("tiny", 0.1)], breathing=True)
    q = runner.commands
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    t = run_until(runner, 0.0, at(runner, "breathing"))
    assert runner.scene.inner.asking                       # offered, not imposed
    answer(runner, t, ["back"])
    t = run_until(runner, t, at(runner, "tiny"))
    q.put(Command("switch_scene", {"scene": "free_mirror"}))
    q.put(Command("recenter"))
    q.put(Command("skin_tone", {"tone": "IV"}))
    runner.step(t, DT, render=False)
    assert runner.scene.name == "free_mirror"
    assert runner.board.status()[1]["message"] == "skin tone IV"
    assert engine.settings.patient.skin_tone == "IV"
    assert runner.events.of_kind("param_changed")[-1].data == {
        "name": "patient.skin_tone", "old": "III", "new": "IV", "by": "therapist"}
    q.put(Command("switch_scene", {"scene": "nowhere"}))
    runner.step(t + DT, DT, render=False)
    assert "no scene named 'nowhere'" in runner.board.status()[1]["message"]
    assert runner.scene.name == "free_mirror"
    q.put(Command("gate_override", {"phase": "mirror", "advance": False,
                                    "reason": "keep going"}, by="th1"))
    runner.step(t + 2 * DT, DT, render=False)
    assert runner.program.overrides[0]["by"] == "th1"
    (gd,) = runner.events.of_kind("gate_decision")
    assert gd.data["override"] is True and gd.data["advance"] is False
    breath = next(e for e in runner.events.history
                  if e.kind == "scene_finished" and e.scene == "breathing")
    assert breath.data["summary"]["skipped"] is True


@pytest.mark.parametrize("reminder_min, second", [(2.0, "tiny"), (1.0, "breathing")])
def test_break_reminder_offers_breathing_when_due(make, reminder_min, second):
    runner, _ = make([SceneStep("tiny", 1.1), SceneStep("tiny", 1.1)],
                     break_reminder_min=reminder_min)
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    run_until(runner, 0.0, lambda: runner.index >= 2, limit_s=90)   # 66 s of tiny
    assert runner.scene.name == second


def test_resolve_scene():
    assert resolve_scene("pain_nrs") is PainNRS           # by its entry point
    assert resolve_scene("free_mirror") is FreeMirror
    assert resolve_scene("tiny", REGISTRY) is Tiny        # a registry first
    with pytest.raises(SessionError, match="no scene named 'no_such_scene' is installed"):
        resolve_scene("no_such_scene")


def test_breath_phase_paces_six_breaths_a_minute():
    assert breath_phase(0.0, 6.0, 0.4) == (True, 0.0)
    inhale, size = breath_phase(4.0, 6.0, 0.4)            # end of the 4 s in-breath
    assert size == pytest.approx(1.0) and not inhale
    assert breath_phase(2.0, 6.0, 0.4)[1] == pytest.approx(0.5)
    assert breath_phase(7.0, 6.0, 0.4) == (False, pytest.approx(0.5))
    assert breath_phase(10.0, 6.0, 0.4)[1] == pytest.approx(0.0)


@pytest.mark.parametrize("scene", [PainNRS(), PainNRS(moment="post"), SSQ(),
                                   Breathing(ask_first=True)])
def test_text_is_at_least_1_5_degrees_per_line(display, scene):
    engine = Engine(Settings(), ScriptedSource("reach", intact_side="right"), display)
    try:
        for i in range(3):
            engine.frame(i * DT, DT, render=False)
        engine.set_scene(scene)
        engine.frame(3 * DT, DT, render=False)
        render = display.base.render
        eye = np.array(engine.core.frame.head[:3])
        texts = engine.world.find_all_matches("**/+TextNode")
        assert texts.get_num_paths() >= 1
        for path in texts:
            node: TextNode = path.node()
            line_m = node.get_line_height() * path.get_sz(render)
            distance = float(np.linalg.norm(np.array(path.get_pos(render)) - eye))
            assert 0.8 < distance < 1.5
            assert visual_angle_deg(line_m, distance) >= 1.5, node.get_text()
        assert math.isclose(visual_angle_deg(0.0261859, 1.0), 1.5, abs_tol=1e-3)
    finally:
        engine.close()


def test_headset_focus_loss_is_recorded_and_stops_the_block_clock(make):
    runner, engine = make([SceneStep("tiny", 0.1)])
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    t = run_until(runner, 0.0, at(runner, "tiny"))
    engine.focus_lost = True                   # the runtime's menu, the headset taken off
    for _ in range(300):                       # 10 s: longer than the 6 s block
        runner.step(t, DT, render=False)
        t += DT
    assert runner.scene.name == "tiny" and runner.scene.inner.frames <= 1
    engine.focus_lost = False
    t = run_until(runner, t, at(runner, "pain_nrs"))
    h = runner.events.history
    pauses = [(e.kind, e.data) for e in h if e.kind in ("session_paused", "session_resumed")]
    assert pauses == [("session_paused", {"reason": "headset focus lost"}),
                      ("session_resumed", {})]
    started = next(e.t for e in h if e.kind == "scene_started" and e.scene == "tiny")
    ended = next(e.t for e in h if e.kind == "scene_finished" and e.scene == "tiny")
    assert ended - started == pytest.approx(10.0 + 6.0, abs=3 * DT)


def test_set_patient_restarts_the_scene_or_skips_it_for_the_wrong_limb(make):
    runner, engine = make([SceneStep("tiny", 0.2), SceneStep("arm_only", 0.2),
                           SceneStep("arm_only", 0.2), SceneStep("tiny", 0.2)])
    q, board = runner.commands, runner.board
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    t = run_until(runner, 0.0, at(runner, "tiny"))
    old = runner.scene
    q.put(Command("set_param", {"name": "speed", "value": 3}))
    runner.step(t, DT, render=False)
    q.put(Command("set_patient", {"side": "right"}, by="th1"))
    runner.step(t + DT, DT, render=False)
    t += 2 * DT
    status = board.status()[1]
    assert (status["side"], status["level"]) == ("right", "transradial")
    assert status["message"] == "patient: side right; tiny restarted for the arm"
    assert runner.scene is not old and runner.scene.inner.difficulty["speed"] == 3
    assert engine.core.amputated == 1 and engine.scene is runner.scene
    h = runner.events.history
    tail = [(e.kind, e.scene, e.data.get("reason")) for e in h[-3:]]
    assert tail == [("scene_finished", "tiny", "stopped"), ("scene_started", "tiny", None),
                    ("param_changed", "", None)]
    assert h[-1].data == {"name": "patient.side", "old": "left", "new": "right", "by": "th1"}
    t = run_until(runner, t, at(runner, "arm_only"))
    q.put(Command("set_patient", {"level": "transtibial", "height_m": 1.6}))
    runner.step(t, DT, render=False)
    status = board.status()[1]
    assert (status["side"], status["level"]) == ("right", "transtibial")
    assert engine.core.limb == "leg" and runner.scene.name == "tiny"
    assert status["message"] == ("patient: level transtibial, height 1.6 m; "
                                 "arm_only is for the arm; this patient trains the leg, "
                                 "so it was skipped")
    ends = [(e.scene, e.data["reason"], e.data["summary"].get("skipped"))
            for e in runner.events.of_kind("scene_finished")][-2:]
    assert ends == [("arm_only", "skipped", "arm_only is for the arm; this patient trains "
                                            "the leg")] * 2    # the running and the next one
    changed = [(e.data["name"], e.data["new"]) for e in runner.events.of_kind("param_changed")]
    assert changed[-2:] == [("patient.amputation_level", "transtibial"),
                            ("patient.height_m", 1.6)]
    for bad, message in (({"side": "middle"}, "is not one of left, right"),
                         ({"level": "transtibial"}, "set_patient: nothing changed")):
        n = len(runner.events.history)
        q.put(Command("set_patient", bad))
        runner.step(t + DT, DT, render=False)
        assert message in board.status()[1]["message"]
        assert len(runner.events.history) == n and runner.scene.name == "tiny"


def test_calibrate_command_records_a_calibration_or_says_why_not(make):
    runner, engine = make([SceneStep("tiny", 0.5)], source=HeadStill())
    runner.start(0.0)
    answer(runner, 0.1, NRS_ZERO)
    t = run_until(runner, 0.0, at(runner, "tiny"))
    runner.commands.put(Command("calibrate", by="th1"))
    runner.step(t, DT, render=False)
    assert runner.board.status()[1]["message"].startswith("calibrating: the patient sits "
                                                          "upright, arms hanging relaxed")
    t = run_until(runner, t + DT, lambda: not engine.calibrating)
    runner.step(t, DT, render=False)
    assert runner.board.status()[1]["message"].startswith("calibrated: shoulders")
    (event,) = runner.events.of_kind("param_changed")
    assert event.data["name"] == "patient.calibration" and event.data["by"] == "th1"
    assert event.data["old"] is None and event.data["new"]["ok"] is True
    assert engine.core.torso.calibrated

    failing, engine2 = make([SceneStep("tiny", 0.5)])        # reaching: no arm hangs
    failing.start(0.0)
    failing.commands.put(Command("calibrate"))
    run_until(failing, 0.0, lambda: engine2.calibration is not None)
    failing.step(10.0, DT, render=False)
    message = failing.board.status()[1]["message"]
    assert message.startswith("calibration failed: the right controller") and "\n" not in message
    assert not failing.events.of_kind("param_changed")


def test_a_gate_override_reaches_the_program_hook(make):
    runner, _ = make([SceneStep("tiny", 0.5)])
    saved = []
    runner.on_program_change = saved.append
    runner.start(0.0)
    runner.commands.put(Command("gate_override", {"phase": "mirror", "advance": False,
                                                  "reason": "stay"}, by="th1"))
    runner.step(0.0, DT, render=False)
    assert saved == [runner.program] and saved[0].overrides[-1]["reason"] == "stay"

    def broken(program):
        raise OSError("disk full")

    runner.on_program_change = broken
    runner.commands.put(Command("gate_override", {"phase": "mirror", "advance": False,
                                                  "reason": "again"}, by="th1"))
    runner.step(DT, DT, render=False)
    message = runner.board.status()[1]["message"]
    assert message == "gate override recorded: now in mirror; NOT saved: OSError: disk full"
    assert len(runner.program.overrides) == 2
