"""The "Imagine it" scene on the headless display: a replayed intact-hand movement and
scripted marks and ratings give the trial event with the right durations and ratio; the
phantom moves while demonstrating and is hidden or frozen while the patient imagines."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vrgmi.app import Engine
from vrgmi.core import warmup
from vrgmi.imagery.movements import MovementPlayer
from vrgmi.imagery.session_logic import plan_block
from vrgmi.scenes.imagery import ImageryScene
from vrgmi.scenes.schema import SceneParamError
from vrgmi.settings import load_settings
from vrgmi.tracking.replay import Replay, ReplaySource
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 90.0
MOVE_START, MOVE_S, MOVE_M = 3.0, 1.0, 0.25


def _reach_once() -> Replay:
    """The intact right hand at rest, then one 25 cm minimum-jerk reach forward over
    3.0..4.0 s, then still."""
    arrays = make_scripted_replay("rest", 20.0, RATE, "right").arrays()
    arrays = {k: np.array(v) for k, v in arrays.items()}
    s = np.clip((arrays["t"] - MOVE_START) / MOVE_S, 0.0, 1.0)
    arrays["right_grip"][:, 1] += MOVE_M * s ** 3 * (10 - 15 * s + 6 * s * s)
    return Replay.from_arrays(arrays)


@pytest.fixture(scope="module", autouse=True)
def _kernels():
    warmup()


#: these tests measure the scored movements: no instruction screen, no practice movement
SCORED_ONLY = ["ui.instructions=false", "practice.imagery_trials=0"]
#: the block seed the scene gets; its order puts elbow_flex_ext (a 2.2 s demonstration,
#: which the scripted timings below follow) first
SEED = 1


def _engine(display, seed: int = SEED, **params) -> tuple[Engine, ImageryScene]:
    """The scene started the way a session starts a block: with the block's seed."""
    settings = load_settings(None, ["patient.amputation_level=transradial", *SCORED_ONLY])
    scene = ImageryScene(movements=1, repetitions=1, sound=False, **params)
    engine = Engine(settings, ReplaySource(_reach_once()), display)
    engine.set_scene(scene, seed=seed)
    return engine, scene


def _run(engine, scene, script, until, watch=None):
    for t, action in script:
        engine.inputs.push(action, t, "script")
    i = 0
    while not scene.finished and i / RATE < until:
        engine.frame(i / RATE, 1 / RATE, render=False)
        if watch:
            watch(i / RATE, scene)
        i += 1


def test_trial_event_durations_ratio_and_phantom(display):
    engine, scene = _engine(display, count_in_s=1.0)
    # the seeded order decides the movement: the same seed, the same block
    assert scene.movements == plan_block("arm", 1, 1, seed=SEED)
    assert [m.id for m in scene.movements] == ["elbow_flex_ext"]
    seen = {}

    def watch(t, sc):
        phase = sc.trial.phase if sc.trial else "none"
        wrist = sc._solver.positions[2].copy()
        seen.setdefault(phase, []).append((t, wrist, engine.phantom_rig.root.is_hidden()))

    # demonstration 0..2.2 s; the reach at 3..4 s is the execution; select skips the cue;
    # count-in 1 s; marks 0.9 s apart; visual 3 (select), kinesthetic 4 (up, select)
    script = [(5.5, "select"), (7.0, "mark"), (7.9, "mark"), (8.2, "select"), (8.4, "up"),
              (8.6, "select")]
    _run(engine, scene, script, 12.0, watch)
    assert scene.finished
    trials = engine.events.of_kind("trial", "imagery")
    assert len(trials) == 1
    r = trials[0].data
    # the 1.0 s reach, timed whole: the 5 % threshold crossings are extrapolated to zero
    # speed (a threshold alone read 0.833 s); measured 0.968 s, the tracking filters' lag at
    # low speed trimming the rest
    assert r["executed_s"] == pytest.approx(1.0, abs=0.05)
    assert r["imagined_s"] == pytest.approx(0.9)
    assert r["ratio"] == pytest.approx(0.9 / r["executed_s"], abs=1e-3)
    assert (r["visual"], r["kinesthetic"]) == (3, 4)
    assert r["kviq_item"] == "elbow_flexion_extension" and r["side"] == "left"
    assert r["timeouts"] == [] and len(r["marks"]) == 2
    json.loads(trials[0].to_json())                          # JSON-ready for the records
    demo = seen["demonstrate"]
    travel = max(np.linalg.norm(w - demo[0][1]) for _, w, _ in demo)
    assert travel > 0.2                                      # the phantom hand really moved
    assert not any(hidden for _, _, hidden in demo)
    assert all(hidden for _, _, hidden in seen["imagine"])   # hidden while imagining
    q = engine.events.of_kind("questionnaire", "imagery")
    assert q[0].data["instrument"] == "kviq"
    assert q[0].data["answers"] == [{"item": "elbow_flexion_extension", "number": 4,
                                     "visual": 3, "kinesthetic": 4}]
    done = engine.events.of_kind("block_finished", "imagery")[0].data
    assert done["trials"] == 1 and done["progression"]["advice"] == "stay"
    engine.close()
    summary = engine.events.of_kind("scene_finished", "imagery")[0].data["summary"]
    assert summary["mean_ratio"] == pytest.approx(r["ratio"], abs=1e-3)


def test_missing_marks_are_null_and_frozen_limb_holds_still(display):
    engine, scene = _engine(display, count_in_s=1.0, imagine_timeout_s=5.0,
                            execute_with_intact=False, rate_kviq=False,
                            limb_during_imagery="frozen")
    seen = []

    def watch(t, sc):
        if sc.trial and sc.trial.phase == "imagine":
            seen.append((sc._solver.positions[2].copy(), engine.phantom_rig.root.is_hidden()))

    _run(engine, scene, [], 14.0, watch)
    r = engine.events.of_kind("trial", "imagery")[0].data
    assert r["imagined_s"] is None and r["executed_s"] is None and r["ratio"] is None
    assert r["timeouts"] == ["imagine"] and r["marks"] == []
    assert r["visual"] is None and r["kinesthetic"] is None
    assert not engine.events.of_kind("questionnaire", "imagery")
    # frozen: shown, in the movement's start posture, not moving
    assert seen and not any(hidden for _, hidden in seen)
    first = seen[0][0]
    assert max(np.linalg.norm(w - first) for w, _ in seen) < 0.005   # torso sway only
    player = MovementPlayer("arm")
    solver = scene._solver
    expected = solver.positions[2].copy()
    player.apply(scene.movements[0].poses[0], solver, 0,
                 engine.core.torso.shoulder(0))
    assert np.allclose(solver.positions[2], expected, atol=1e-3)
    engine.close()


def test_leg_session_uses_leg_movements(display):
    settings = load_settings(None, ["patient.amputation_level=transtibial", *SCORED_ONLY])
    from vrgmi.tracking.scripted import ScriptedSource

    scene = ImageryScene(level=3, movements=2, sound=False)
    engine = Engine(settings, ScriptedSource("foot_tap", intact_side="right"), display,
                    scene=scene)
    assert [m.limb for m in scene.movements] == ["leg", "leg"]
    assert all(m.level == 3 for m in scene.movements)
    for i in range(30):
        engine.frame(i / RATE, 1 / RATE, render=i == 29)
    assert scene.trial.phase == "demonstrate"
    assert not engine.phantom_rig.root.is_hidden()
    engine.close()


def test_bad_difficulty_is_a_one_line_error():
    with pytest.raises(SceneParamError, match="level = 4 is out of range 1..3"):
        ImageryScene(level=4)
    with pytest.raises(SceneParamError, match="limb_during_imagery"):
        ImageryScene(limb_during_imagery="blurred")
    assert ImageryScene.describe()["phase"] == "imagery"
