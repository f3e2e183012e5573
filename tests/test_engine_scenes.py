"""The engine's side of the scene API: scenes get frames with display times and inputs,
pausing holds the limbs and the scene, switching scenes records both ends."""
from __future__ import annotations

import numpy as np

from vrgmi.app import Engine
from vrgmi.scenes.base import Scene, SceneFrame
from vrgmi.scenes.schema import Param
from vrgmi.settings import load_settings
from vrgmi.tracking.replay import ReplaySource
from vrgmi.tracking.scripted import make_scripted_replay

RATE = 90.0


class Recording(Scene):
    """Remembers every frame time and input it was given; emits one trial per answer."""

    name = "recording"
    phase = "laterality"
    params = (Param("n", "int", 3, "a number", 1, 10),)

    def setup(self, ctx):
        super().setup(ctx)
        self.seen: list[tuple[float, list]] = []

    def update(self, frame: SceneFrame, dt: float) -> None:
        self.seen.append((frame.t, [(e.action, e.t) for e in frame.inputs]))
        for e in frame.inputs:
            self.emit("trial", {"index": len(self.seen), "answer": e.action,
                                "rt_ms": (e.t - 0.5) * 1000.0})


def _engine(display, scene):
    settings = load_settings(overrides={"patient.amputation_side": "left"})
    replay = make_scripted_replay("reach", 3.0, RATE, intact_side="right")
    return Engine(settings, ReplaySource(replay, time_origin=0.0), display, scene=scene)


def test_inputs_arrive_with_their_own_times_at_the_next_frame(display, scene):
    rec = Recording(n=5)
    engine = _engine(display, rec)
    engine.inputs.push("left", 0.734, "script")       # between frames 66 (0.7333) and 67
    for i in range(90):
        engine.frame(i / RATE, 1 / RATE, render=False)
    got = [(t, inp) for t, inp in rec.seen if inp]
    assert len(got) == 1
    t, inp = got[0]
    assert t == 67 / RATE and inp == [("left", 0.734)]
    trials = engine.events.of_kind("trial", "recording")
    assert len(trials) == 1 and abs(trials[0].data["rt_ms"] - 234.0) < 1e-9
    assert trials[0].t == 67 / RATE
    engine.close()
    assert [e.kind for e in engine.events.history] == ["scene_started", "trial", "scene_finished"]


def test_pause_holds_the_limbs_and_the_scene(display, scene):
    rec = Recording()
    engine = _engine(display, rec)
    for i in range(30):
        engine.frame(i / RATE, 1 / RATE, render=False)
    held = engine.core.phantom.positions.copy()
    frames_seen = len(rec.seen)
    engine.paused = True
    for i in range(30, 60):
        engine.frame(i / RATE, 1 / RATE, render=False)
    assert len(rec.seen) == frames_seen
    np.testing.assert_array_equal(engine.core.phantom.positions, held)
    engine.paused = False
    for i in range(60, 90):
        engine.frame(i / RATE, 1 / RATE, render=False)
    assert len(rec.seen) == frames_seen + 30
    assert not np.allclose(engine.core.phantom.positions, held)
    engine.close()


def test_switching_scenes_ends_the_old_one_and_clears_pending_input(display, scene):
    first, second = Recording(), Recording()
    engine = _engine(display, first)
    for i in range(10):
        engine.frame(i / RATE, 1 / RATE, render=False)
    engine.inputs.push("right", 0.5, "script")
    engine.set_scene(second)
    for i in range(10, 60):
        engine.frame(i / RATE, 1 / RATE, render=False)
    assert all(not inp for _, inp in second.seen)
    kinds = [(e.kind, e.data.get("reason")) for e in engine.events.history]
    assert kinds[:3] == [("scene_started", None), ("scene_finished", "stopped"),
                         ("scene_started", None)]
    started = engine.events.of_kind("scene_started")[1]
    assert started.t == 9 / RATE and started.data["params"] == {"n": 3}
    engine.close()
