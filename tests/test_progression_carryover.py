"""Progression that can happen with the default block sizes and carries over between sessions:
the imagery level, the laterality staircase's start level and the mirror level, kept in the
patient's program in the records and read at the next session's start."""
from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from vrgmi.app import Engine
from vrgmi.control import Command, CommandQueue, StatusBoard
from vrgmi.imagery.movements import movements_for
from vrgmi.imagery.progression import WINDOW, suggest_level
from vrgmi.imagery.session_logic import BlockResults, plan_block
from vrgmi.input import InputEvent
from vrgmi.laterality.staircase import (CARRY_OVER_STEPS_DOWN, STEP_UP, DifficultyMap,
                                        WeightedUpDown, next_session_start)
from vrgmi.laterality.task import LateralityTask
from vrgmi.mirror.progression import (DOWN_SUCCESS, MIN_TRIALS, UP_SUCCESS, mirror_levels,
                                      suggest_mirror_level)
from vrgmi.program import Program, ProgramError, SceneStep, default_steps, program_from_dict
from vrgmi.progress import (IMAGERY, LATERALITY, MIRROR, after_scene, after_session,
                            carried_params)
from vrgmi.records import RecordSink, open_database
from vrgmi.records.programs import close_session, load_program, save_program
from vrgmi.records import queries as q
from vrgmi.scenes import available_scenes
from vrgmi.scenes.base import Scene
from vrgmi.scenes.breathing import Breathing, CalmView
from vrgmi.scenes.imagery import ImageryScene
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.schema import Param
from vrgmi.scenes.ssq import SSQ
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

DT = 1.0 / 30.0


# --- imagery -----------------------------------------------------------------------------

def test_every_imagery_level_fills_a_default_block_that_can_decide():
    assert ImageryScene().difficulty["movements"] == WINDOW
    for limb in ("arm", "leg"):
        for level in (1, 2, 3):
            block = plan_block(limb, level, WINDOW, seed=7)
            assert len(block) == WINDOW == len({m.id for m in block})
            assert len(movements_for(limb, level)) >= WINDOW
    # one default block of good trials decides "up"; the summary carries the level over
    results = BlockResults(2)
    for m in plan_block("leg", 2, WINDOW, seed=1):
        results.add({"level": 2, "ratio": 1.05, "visual": 4, "kinesthetic": 3,
                     "executed_s": 2.0, "imagined_s": 2.1, "kviq_item": m.kviq})
    summary = results.summary()
    assert summary["progression"]["advice"] == "up"
    assert summary["carry_over"] == {IMAGERY: 3}
    # one trial short of a block decides nothing: the level is carried as it is
    short = BlockResults(2)
    for r in results.trials[:-1]:
        short.add(r)
    assert short.summary()["carry_over"] == {IMAGERY: 2}
    assert suggest_level(short.trials, 2)["advice"] == "stay"
    # a trial where the intact limb moved while imagining does not count toward it
    moved = results.trials[:-1] + [dict(results.trials[-1], intact_moved=True)]
    assert suggest_level(moved, 2)["n"] == WINDOW - 1


def test_new_level_three_and_leg_movements_are_there():
    arm3 = {m.id for m in movements_for("arm", 3)}
    leg2 = {m.id for m in movements_for("leg", 2)}
    leg3 = {m.id for m in movements_for("leg", 3)}
    assert {"drink_from_cup", "turn_key"} <= arm3
    assert {"straighten_and_point", "foot_out_to_side"} <= leg2
    assert {"roll_ball_under_foot", "draw_circle_with_toes"} <= leg3


# --- laterality --------------------------------------------------------------------------

def test_next_session_starts_two_error_steps_lower():
    down = WeightedUpDown().step_down
    assert down == pytest.approx(STEP_UP * 4.0)                    # p = 0.8
    assert next_session_start(0.5) == pytest.approx(0.5 - CARRY_OVER_STEPS_DOWN * down)
    assert next_session_start(0.02) == 0.0
    assert next_session_start(0.5, target=0.9) == pytest.approx(0.5 - 2 * STEP_UP * 9.0)


def _trials_to_full_range(p_correct: float, seed: int) -> int:
    rng = np.random.default_rng(seed)
    s, m = WeightedUpDown(), DifficultyMap()
    n = 0
    while m.rotation_max_deg(s.level) < 180.0 - 1e-9:
        s.update(bool(rng.random() < p_correct))
        n += 1
    return n


def test_reaching_180_deg_takes_sessions_not_a_few_answers():
    assert _trials_to_full_range(1.0, 0) == math.ceil(0.5 / STEP_UP - 1e-9) == 100
    at90 = [_trials_to_full_range(0.9, s) for s in range(20)]
    assert 150 < np.median(at90) < 260          # about 200: two sessions of 120 answers
    at85 = [_trials_to_full_range(0.85, s) for s in range(10)]
    assert np.median(at85) > 300


def test_laterality_scene_carries_its_final_level_and_starts_from_it():
    assert LateralityScene.carry_over == {LATERALITY: "start_level"}
    scene = LateralityScene(start_level=0.3, block_length=6, blocks=1, iti_ms=500,
                            iti_jitter_ms=0, feedback=False)
    trials: list = []
    task = scene.task = LateralityTask(scene._config(), trials.append, lambda b, f: None)
    assert task.level == pytest.approx(0.3)
    t = 0.0
    task.update(t, [InputEvent("select", t, "script")])
    def scored():
        """The staircase's trials (not practice, not the fixed-difficulty probe)."""
        return [r for r in trials if not r.get("practice") and not r.get("probe")]
    while len(scored()) < 6 and t < 300.0:
        t = round(t + 0.1, 6)
        shown = task.phase == "stimulus" and task.onset is not None and t > task.onset
        answer = task.stimulus.side if shown else "select" if task.phase in (
            "intro", "rest") else None
        task.update(t, [InputEvent(answer, t - 0.05, "script")] if answer else [])
    assert len(scored()) == 6 and all(r["correct"] for r in scored())
    final = scene.summary()["level"]
    assert final == pytest.approx(0.3 + 6 * STEP_UP)
    assert scene.summary()["carry_over"] == {LATERALITY: next_session_start(final)}
    progress = after_scene({}, scene.summary())
    assert carried_params(LateralityScene, progress) == {"start_level": progress[LATERALITY]}
    assert LateralityScene(**carried_params(LateralityScene, progress)).difficulty[
        "start_level"] == pytest.approx(final - 2 * 4 * STEP_UP)


# --- mirror ------------------------------------------------------------------------------

def _mtrials(scene_rates: dict[str, tuple[int, int]]) -> list[dict]:
    out = []
    for scene, (ok, n) in scene_rates.items():
        out += [{"scene": scene, "success": k < ok} for k in range(n)]
    return out


def test_mirror_rule_up_stay_down_and_top():
    up = suggest_mirror_level(_mtrials({"a": (8, 8), "b": (6, 7)}), 1, 4)
    assert up["advice"] == "up" and up["suggested_level"] == 2 and up["n"] == 15
    weak_task = suggest_mirror_level(_mtrials({"a": (12, 12), "b": (2, 5)}), 2, 4)
    assert weak_task["success_rate"] >= UP_SUCCESS and weak_task["advice"] == "stay"
    down = suggest_mirror_level(_mtrials({"a": (3, 8), "b": (2, 8)}), 3, 4)
    assert down["success_rate"] < DOWN_SUCCESS and down["suggested_level"] == 2
    few = suggest_mirror_level(_mtrials({"a": (MIN_TRIALS - 1, MIN_TRIALS - 1)}), 1, 4)
    assert few["advice"] == "stay" and "of 12" in few["reason"]
    top = suggest_mirror_level(_mtrials({"a": (12, 12)}), 4, 4)
    assert top["suggested_level"] == 4 and "top level" in top["reason"]


@pytest.mark.parametrize("limb", ["arm", "leg"])
def test_default_mirror_program_runs_simple_then_functional_levels(limb):
    scenes = available_scenes()
    levels = mirror_levels(limb)
    assert [lv.level for lv in levels] == [1, 2, 3, 4]
    functional = {"arm": {"cup_move", "pour", "key_turn", "wipe_table"},
                  "leg": {"roll_ball", "press_hold", "trace_path"}}[limb]
    assert functional <= {b.scene for lv in levels[2:] for b in lv.blocks}
    assert not functional & {b.scene for lv in levels[:2] for b in lv.blocks}
    program = Program("p1", phase="mirror", steps=default_steps(limb))
    assert program.top_mirror_level() == 4
    for lv in levels:
        at = Program("p1", phase="mirror", steps=default_steps(limb), progress={MIRROR: lv.level})
        steps = at.session_steps()
        assert [s.scene for s in steps] == [b.scene for b in lv.blocks]
        assert all(s.scene in scenes and scenes[s.scene].phase == "mirror" for s in steps)
        assert sum(s.minutes for s in steps) <= program.minutes_per_session
    # past the top the last level runs; a program without levels runs every block
    assert Program("p1", phase="mirror", steps=default_steps(limb),
                   progress={MIRROR: 9}).session_steps()[0].level == 4
    plain = Program("p1", phase="mirror", steps={"mirror": [SceneStep("free_mirror")]},
                    progress={MIRROR: 3})
    assert [s.scene for s in plain.session_steps()] == ["free_mirror"]


def test_progress_values_are_checked_and_survive_the_program_file():
    p = Program("p1", progress={IMAGERY: 2, LATERALITY: 0.35, MIRROR: 3})
    back = program_from_dict(p.as_dict())
    assert back.progress == p.progress
    for bad in ({IMAGERY: 4}, {IMAGERY: 1.5}, {LATERALITY: 1.2}, {"speed": 1},
                {MIRROR: True}):
        with pytest.raises(ProgramError) as err:
            Program("p1", progress=bad)
        assert "\n" not in str(err.value) and "progress" in str(err.value)


def test_a_pain_flare_or_an_early_end_holds_every_level():
    started = {IMAGERY: 1, LATERALITY: 0.2, MIRROR: 2}
    after = {IMAGERY: 2, LATERALITY: 0.3, MIRROR: 2}
    events = [{"kind": "scene_started", "scene": "a", "data": {"phase": "mirror"}}] + [
        {"kind": "trial", "scene": "a", "data": {"success": True}}] * 14
    progress, mirror = after_session(after, started, events, "mirror", 4)
    assert progress == {IMAGERY: 2, LATERALITY: 0.3, MIRROR: 3} and mirror["advice"] == "up"
    held, mirror = after_session(after, started, events, "mirror", 4, "pain flare")
    assert held == started and mirror["advice"] == "hold"
    assert mirror["reason"].startswith("pain flare")
    # practice trials count for nothing
    practice = events[:1] + [{"kind": "trial", "scene": "a",
                              "data": {"success": True, "practice": True}}] * 14
    assert after_session(after, started, practice, "mirror", 4)[1]["n"] == 0


# --- through a session and the records ---------------------------------------------------

class Rated(Scene):
    """An imagery-phase test scene that ends at once and suggests the next level (as
    ImageryScene's block summary does)."""

    name = "rated"
    phase = "imagery"
    params = (Param("level", "int", 1, "level", lo=1, hi=3),)
    carry_over = {IMAGERY: "level"}

    def update(self, frame, dt):
        self.finished = True

    def summary(self):
        return {"carry_over": {IMAGERY: min(3, self.difficulty["level"] + 1)}}


class Taps(Scene):
    """A mirror-phase test scene: one successful trial a frame, ``n`` of them."""

    name = "taps"
    phase = "mirror"
    params = (Param("n", "int", 7, "trials", lo=1, hi=50),
              Param("success", "bool", True, "every trial succeeds"))

    def update(self, frame, dt):
        k = getattr(self, "k", 0)
        if k >= self.difficulty["n"]:
            self.finished = True
            return
        self.emit("trial", {"index": k, "success": self.difficulty["success"]})
        self.k = k + 1


REGISTRY = {c.name: c for c in (PainNRS, SSQ, Breathing, CalmView, Rated, Taps)}


def _session(display, tmp_path, db, program, stop_at=None):
    settings = load_settings(None, {"safety.ssq_baseline": False})
    engine = Engine(settings, ScriptedSource("reach", intact_side="right"), display)
    sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
    runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                           registry=REGISTRY, sinks=[sink],
                           on_program_change=lambda p: save_program(db, p))
    t = 0.0
    runner.start(t)
    while not runner.done and t < 120.0:
        scene = runner.scene.name if runner.scene is not None else ""
        if stop_at is not None and scene == "pain_nrs" and runner.current.part == "post":
            runner.commands.put(Command(stop_at, by="th1"))
        if scene == "pain_nrs":
            runner.engine.inputs.push("right", t, "script")
            runner.engine.inputs.push("select", t, "script")
        elif scene == "ssq":
            for a in ["right", "select"] * 16:
                runner.engine.inputs.push(a, t, "script")
        runner.step(t, DT, render=False)
        t += DT
    summary = runner.close()
    engine.close()
    return runner, summary


def test_levels_carry_over_through_sessions_and_the_records(display, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    q.upsert_patient(db, "p7", side="left", level="transradial")
    imagery = Program("p7", phase="imagery", breathing_between_blocks=False,
                      phase_started=date(2026, 1, 1),
                      steps={"imagery": [SceneStep("rated", 1.0), SceneStep("rated", 1.0)],
                             "mirror": [SceneStep("taps", 1.0, {"n": 7}, level=1),
                                        SceneStep("taps", 1.0, {"n": 7}, level=1),
                                        SceneStep("taps", 1.0, {"n": 6}, level=2),
                                        SceneStep("taps", 1.0, {"n": 6, "success": False},
                                                  level=3)]})
    save_program(db, imagery)
    runner, summary = _session(display, tmp_path / "s1", db, load_program(db, "p7"))
    started = [e.data["params"]["level"] for e in runner.events.of_kind("scene_started",
                                                                        "rated")]
    assert started == [1, 2]                   # the second block starts where the first led
    close_session(db, runner.program, summary)
    assert load_program(db, "p7").progress == {IMAGERY: 3}
    # the next session (a new runner, the program from the records) starts at level 3
    runner, summary = _session(display, tmp_path / "s2", db, load_program(db, "p7"))
    assert runner.events.of_kind("scene_started", "rated")[0].data["params"]["level"] == 3
    # mirror: level 1's 14 trials all succeed -> the next session runs level 2's block
    mirror = Program("p7", phase="mirror", steps=imagery.steps, breathing_between_blocks=False,
                     progress={IMAGERY: 3})
    runner, summary = _session(display, tmp_path / "s3", db, mirror)
    assert [e.data["params"]["n"] for e in runner.events.of_kind("scene_started", "taps")] \
        == [7, 7]
    (prog,) = runner.events.of_kind("progression")
    assert prog.data["mirror"]["advice"] == "up" and prog.data["after"][MIRROR] == 2
    assert load_program(db, "p7").progress == {IMAGERY: 3, MIRROR: 2}   # saved at once
    program = load_program(db, "p7")
    assert [s.params["n"] for s in program.session_steps()] == [6]
    db.close()


def test_an_emergency_stop_advances_no_level(display, tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    q.upsert_patient(db, "p8", side="left", level="transradial")
    program = Program("p8", phase="mirror", breathing_between_blocks=False,
                      steps={"mirror": [SceneStep("taps", 1.0, {"n": 14}, level=1),
                                        SceneStep("taps", 1.0, {"n": 6}, level=2)]})
    save_program(db, program)
    runner, _ = _session(display, tmp_path / "s1", db, program, stop_at="emergency_stop")
    assert runner.reason == "emergency_stop"
    (prog,) = runner.events.of_kind("progression")
    assert prog.data["mirror"]["advice"] == "hold" and prog.data["after"][MIRROR] == 1
    assert "ended early (emergency_stop)" in prog.data["held"]
    db.close()


def test_a_therapists_program_change_keeps_the_carried_levels(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    q.upsert_patient(db, "p9", side="left", level="transtibial")
    save_program(db, Program("p9", phase="imagery", progress={IMAGERY: 3, LATERALITY: 0.4}))
    q.set_program(db, "p9", "mirror", sessions_per_day=2)
    program = load_program(db, "p9")
    assert program.phase == "mirror" and program.sessions_per_day == 2
    assert program.progress == {IMAGERY: 3, LATERALITY: 0.4}
    q.upsert_patient(db, "p10", side="left", level="transtibial")
    q.set_program(db, "p10", "laterality")                  # nothing carried yet
    assert load_program(db, "p10").progress == {}
    db.close()
