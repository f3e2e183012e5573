"""Practice trials (with feedback, never scored) and instruction screens (dismissed by
select or a timeout) before the laterality, imagery and mirror tasks, and the imagery flag
for an intact limb that moved while imagining."""
from __future__ import annotations

import numpy as np
import pytest

from records_data import fill_history
from vrgmi.app import Engine
from vrgmi.events import Event
from vrgmi.imagery.movements import movements_for
from vrgmi.imagery.session_logic import BlockResults, TrialConfig, TrialLogic
from vrgmi.input import InputEvent
from vrgmi.laterality.task import LateralityTask, TaskConfig
from vrgmi.records import RecordSink, open_database
from vrgmi.records import queries as q
from vrgmi.scenes.instructions import MIN_READ_S, InstructionGate
from vrgmi.scenes.imagery import PRACTICE_FEEDBACK_S, ImageryScene
from vrgmi.scenes.laterality import LateralityScene
from vrgmi.scenes.reach_targets import ReachTargets
from vrgmi.session import session_summary
from vrgmi.settings import load_settings
from vrgmi.tracking.scripted import ScriptedSource

RATE = 90.0


# --- the instruction screen's gate ---------------------------------------------------------

def test_instructions_close_on_select_after_the_reading_time_or_on_timeout():
    gate = InstructionGate(timeout_s=20.0)
    assert not gate.update(5.0, [InputEvent("select", 5.2)])      # too soon: a stray press
    assert not gate.update(5.5, [InputEvent("left", 5.4)])        # only select dismisses
    assert gate.update(6.5, [InputEvent("select", 6.0 + MIN_READ_S)])
    assert gate.record()["by"] == "select" and gate.record()["read_s"] == pytest.approx(2.0)
    idle = InstructionGate(timeout_s=20.0)
    assert not idle.update(1.0, []) and not idle.update(20.9, [])
    assert idle.update(21.0, []) and idle.record()["by"] == "timeout"


# --- laterality ------------------------------------------------------------------------------

def _answer_all(task: LateralityTask, t: float, wrong: bool, until: float) -> float:
    """Run the task at 90 Hz, answering each stimulus 0.6 s after onset (or continuing a
    rest screen), until ``until`` trials are done in all."""
    while len(task.practice) + len(task.trials) < until and not task.finished:
        inputs = []
        if task.phase in ("intro", "rest") and t >= task._until:
            inputs = [InputEvent("select", t)]
        elif task.phase == "stimulus" and t >= task.onset + 0.6:
            side = task.stimulus.side
            inputs = [InputEvent(("right" if side == "left" else "left") if wrong else side, t)]
        task.update(t, inputs)
        t += 1.0 / RATE
    return t


def test_practice_trials_come_first_with_feedback_and_never_reach_the_staircase():
    blocks = []
    events = []
    task = LateralityTask(TaskConfig(block_length=6, blocks=1, feedback=False, adaptive=True,
                                     practice_trials=4, iti_jitter_ms=0.0, seed=3),
                          events.append, lambda b, f: blocks.append(b))
    assert task.practicing and task.block == -1
    t = _answer_all(task, 0.0, wrong=True, until=1)
    assert task.phase == "feedback" and task.feedback == "wrong"   # feedback although off
    t = _answer_all(task, t, wrong=True, until=4)
    assert [r["practice"] for r in events] == [True] * 4
    assert {r["block"] for r in events} == {-1} and [r["index"] for r in events] == [0, 1, 2, 3]
    assert task.level == 0.0 and task.trials == [] and blocks == []   # nothing scored
    while task.phase == "feedback":
        task.update(t, [])
        t += 1.0 / RATE
    assert task.phase == "rest" and task.block == 0
    t = _answer_all(task, t, wrong=False, until=10)
    scored = events[4:]
    assert [r["practice"] for r in scored] == [False] * 6 and task.finished
    assert [r["index"] for r in scored] == list(range(6)) and blocks == [0]
    summary = task.summary()
    assert summary["trials"] == 6 and summary["practice_trials"] == 4
    assert summary["all"]["accuracy"] == 1.0  # the four wrong practice answers do not count
    assert summary["all"]["n"] == 6 and [b["block"] for b in summary["blocks"]] == [0]


def _session(extra: list[Event]) -> list[Event]:
    sid = "P01-s01"
    evs = [Event("session_started", 0.0, {"patient": "P01", "phase": "laterality"}, "", sid),
           Event("scene_started", 1.0, {"phase": "laterality"}, "laterality", sid),
           *extra]
    for i in range(8):
        evs.append(Event("trial", 10.0 + i, {"index": i, "block": 0, "probe": True,
                                             "practice": False,
                                             "side": ("left", "right")[i % 2],
                                             "correct": True, "rt_ms": 1500.0 + 10 * i},
                         "laterality", sid))
    evs.append(Event("scene_started", 30.0, {"phase": "imagery"}, "imagery", sid))
    evs.append(Event("trial", 31.0, {"index": 0, "block": 0, "ratio": 1.05}, "imagery", sid))
    return evs


def _practice(sid: str = "P01-s01") -> list[Event]:
    out = [Event("trial", 2.0 + i, {"index": i, "block": -1, "practice": True,
                                     "side": ("left", "right")[i % 2], "correct": False,
                                     "rt_ms": 400.0}, "laterality", sid) for i in range(4)]
    return out


def test_session_summary_ignores_practice_trials():
    plain = session_summary(_session([]))
    with_practice = _session(_practice())
    with_practice.append(Event("trial", 32.0, {"index": 0, "block": -1, "practice": True,
                                               "ratio": 3.0}, "imagery", "P01-s01"))
    assert session_summary(with_practice) == plain
    assert plain["laterality"]["accuracy"] == {"left": 1.0, "right": 1.0}


def test_records_keep_practice_trials_apart(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'records.sqlite3'}")
    try:
        sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
        fill_history(sink, "P01", 1)
        sink.close()                                       # written: read back
        before = (q.list_sessions(db, "P01"), q.get_patient(db, "P01")["trials"])
        sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
        for e in _practice():
            sink.put(e)
        sink.close()
        assert sink.error is None and sink.written == 4
        assert (q.list_sessions(db, "P01"), q.get_patient(db, "P01")["trials"]) == before
        lat = q.progress(db, "P01")["laterality"]
        assert sum(row["n"] for row in lat) == 20          # the practice trials are not in it
        rows = q.session_trials(db, "P01-s01")             # the export keeps them, flagged
        practice = [r for r in rows if r["data"].get("practice")]
        assert len(practice) == 4 and {r["block"] for r in practice} == {-1}
    finally:
        db.close()


def test_laterality_scene_shows_instructions_then_practice(display):
    settings = load_settings(None, ["practice.laterality_trials=2"])
    scene = LateralityScene(block_length=4, blocks=1, iti_ms=300, iti_jitter_ms=0,
                            adaptive=False)
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display, scene=scene)
    try:
        engine.inputs.push("left", 0.5, "script")             # ignored by the screen
        engine.inputs.push("select", 1.5, "script")           # read: go on
        i = 0
        while scene.instruction_screen.gate.done_t is None:
            engine.frame(i / RATE, 1 / RATE, render=False)
            i += 1
        assert scene.task.phase == "intro"                   # the scene starts a frame later
        assert i / RATE == pytest.approx(1.5 + 1 / RATE, abs=1.5 / RATE)
        t = i / RATE
        while len(engine.events.of_kind("trial", "laterality")) < 4 and i < 60 * RATE:
            task = scene.task
            if task.phase in ("intro", "rest") and t >= task._until:
                engine.inputs.push("select", t, "script")         # go on
            elif task.phase == "stimulus" and task.onset is not None and t - task.onset > 0.3:
                engine.inputs.push(task.stimulus.side, t, "script")
            engine.frame(t, 1 / RATE, render=False)
            i += 1
            t = i / RATE
        trials = [e.data for e in engine.events.of_kind("trial", "laterality")]
        assert [d["practice"] for d in trials] == [True, True, False, False]
        assert [d["block"] for d in trials][:2] == [-1, -1] and trials[2]["index"] == 0
        engine.set_scene(ReachTargets())                     # ends the laterality scene
        done = engine.events.of_kind("scene_finished", "laterality")[0].data
        assert done["instructions"]["by"] == "select"
        assert done["summary"]["trials"] == 2 and done["summary"]["practice_trials"] == 2
    finally:
        engine.close()


# --- imagery ---------------------------------------------------------------------------------

def _imagine(position_at, speed_at) -> dict:
    """One trial without execution or ratings: imagine from 0.5 s, marks at 1 s and 3 s."""
    movement = movements_for("arm", 1)[0]
    config = TrialConfig(execute=False, cue_s=0.1, count_in_s=0.0, rate=False,
                         intact_moved_m=0.03, intact_moved_mps=0.10)
    trial = TrialLogic(movement, config, 0.0, demo_s=0.2)
    t = 0.0
    while not trial.done:
        marks = [InputEvent("mark", t)] if abs(t - 1.0) < 1e-9 or abs(t - 3.0) < 1e-9 else []
        trial.update(t, marks, speed_at(t), position_at(t))
        t = round(t + 0.01, 2)
    return trial.record


def test_an_intact_limb_that_moves_while_imagining_flags_the_trial():
    still = _imagine(lambda t: np.array([0.3, 0.2, 1.0]), lambda t: 0.01)
    assert still["intact_moved"] is False and still["still_drift_m"] == 0.0
    # a slow drift of ~7 cm (slower than the speed limit, further than the distance limit)
    drift = _imagine(lambda t: np.array([0.3 + 0.025 * t, 0.2, 1.0]), lambda t: 0.025)
    imagining_s = drift["marks"][1]          # from the go tone to the second mark
    assert drift["intact_moved"] is True
    assert drift["still_drift_m"] == pytest.approx(0.025 * imagining_s, abs=0.001)
    # a quick twitch: fast, but back in place
    twitch = _imagine(lambda t: np.array([0.3, 0.2, 1.0]),
                      lambda t: 0.4 if 1.5 < t < 1.6 else 0.0)
    assert twitch["intact_moved"] is True and twitch["still_peak_mps"] == 0.4
    results = BlockResults(1)
    for record in (still, drift, twitch):
        results.add(record)
    assert results.summary()["intact_moved"] == 2


def test_the_imagery_scene_practises_one_movement_then_scores_the_block(display):
    settings = load_settings(None, ["ui.instructions=false", "practice.imagery_trials=1",
                                    "patient.amputation_level=transradial"])
    scene = ImageryScene(movements=2, repetitions=1, sound=False, execute_with_intact=False,
                         rate_kviq=False, count_in_s=0.0)
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display, scene=scene)
    try:
        i, last = 0, -1.0
        while not scene.finished and i < 90 * RATE:
            t = i / RATE
            trial = scene.trial
            if trial is not None and trial.phase in ("cue", "imagine") and t - last > 0.5:
                engine.inputs.push("select", t, "script")          # start, then the marks
                last = t
            engine.frame(t, 1 / RATE, render=False)
            i += 1
        trials = [e.data for e in engine.events.of_kind("trial", "imagery")]
        assert [(d["practice"], d["block"]) for d in trials] == [(True, -1), (False, 0),
                                                                 (False, 0)]
        assert trials[0]["movement"] == trials[1]["movement"]     # the first one, practised
        assert [d["index"] for d in trials[1:]] == [0, 1]
        assert trials[0]["imagined_s"] is not None and not trials[0]["intact_moved"]
        gap = engine.events.of_kind("trial", "imagery")[1].t - engine.events.of_kind(
            "trial", "imagery")[0].t
        assert gap > PRACTICE_FEEDBACK_S                         # the feedback card first
        block = engine.events.of_kind("block_finished", "imagery")[0].data
        assert block["trials"] == 2 and block["intact_moved"] == 0
    finally:
        engine.close()


# --- mirror ----------------------------------------------------------------------------------

def test_a_mirror_task_starts_with_a_practice_trial_that_counts_for_nothing(display):
    settings = load_settings(None, ["ui.instructions=false", "practice.mirror_trials=1"])
    scene = ReachTargets(trials=1, time_limit_s=2.0)
    engine = Engine(settings, ScriptedSource("rest", intact_side="right"), display, scene=scene)
    try:
        i = 0
        while not scene.finished and i < 30 * RATE:
            engine.frame(i / RATE, 1 / RATE, render=False)
            i += 1
        trials = [e.data for e in engine.events.of_kind("trial", "reach_targets")]
        assert [d.get("practice", False) for d in trials] == [True, False]
        assert trials[0]["block"] == -1 and trials[1]["index"] == 0
        assert scene.summary()["trials"] == 1               # the scored trial only
    finally:
        engine.close()
