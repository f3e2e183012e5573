"""Touch the phantom (docs/embodiment.md): a tracked brush stroking the intact or the residual
limb is drawn on the virtual limb in the same frame (synchronous) or a set delay later
(accurate to one frame); strokes are recorded with their times, places and delay; the haptic
pulse reaches the patient's controller; one-step calibration of the brush tip."""
from __future__ import annotations

import numpy as np
import pytest

from tests.mirror_patient import RATE, SeatedPatient, mirror_point
from vrgmi.app import Engine
from vrgmi.body.touch import BrushMap, DelayLine
from vrgmi.scenes.touch import TouchPhantom
from vrgmi.settings import load_settings
from vrgmi.spatial import quat_from_axis_angle, quat_rotate
from vrgmi.tracking.frame import TRACKER_INDEX

BRUSH = TRACKER_INDEX["handheld_object"]
UP = np.array([0.0, 0.0, 1.0])
STROKE_S, AWAY_S = 0.5, 0.4


class BrushPatient(SeatedPatient):
    """The seated patient (intact right arm at rest) and a therapist's brush: a tracker with
    the role handheld_object at ``brush(t) -> (7,) pose or None``; haptic pulses sent to
    the patient's controllers are kept in :attr:`pulses`."""

    def __init__(self) -> None:
        super().__init__("arm")
        self.brush = lambda _t: None
        self.pulses: list[tuple[int, float, float]] = []

    def poll(self, display_time, frame):
        alive = super().poll(display_time, frame)
        pose = self.brush(display_time)
        frame.tracker_valid[BRUSH] = pose is not None
        if pose is not None:
            frame.tracker[BRUSH] = pose
        return alive

    def haptic_pulse(self, side, seconds, amplitude):
        self.pulses.append((side, seconds, amplitude))
        return True


def _engine(display, **params):
    settings = load_settings(None, {"ui.instructions": False, "tracking.one_euro": False,
                                    "display.refresh_hz": RATE})
    source = BrushPatient()
    engine = Engine(settings, source, display, scene=TouchPhantom(**params))
    for i in range(int(0.5 * RATE)):                 # settle: the arm at rest
        engine.frame(i / RATE, 1 / RATE, render=False)
    return engine, source, int(0.5 * RATE)


def _path(a, b, start_t, n=3, lift=0.03, arc=0.15):
    """The brush position at ``t``: ``n`` strokes from ``a`` to ``b`` (``lift`` m above the
    limb's axis, each :data:`STROKE_S`), between them an arc ``arc`` m high back to ``a``
    (:data:`AWAY_S`); before the first and after the last it comes down onto / rises from
    the limb over :data:`AWAY_S`. Continuous, so the pose filter never holds it."""
    a, b = a + lift * UP, b + lift * UP

    def at(t):
        if t < start_t:
            return a + arc * min(1.0, (start_t - t) / AWAY_S) * UP
        k, phase = divmod(t - start_t, STROKE_S + AWAY_S)
        if k >= n - 1 and (k >= n or phase >= STROKE_S):       # after the last stroke
            done = t - start_t - n * (STROKE_S + AWAY_S) + AWAY_S
            return b + arc * min(1.0, done / AWAY_S) * UP
        if phase < STROKE_S:
            return a + (phase / STROKE_S) * (b - a)
        s = (phase - STROKE_S) / AWAY_S
        return b + s * (a - b) + arc * np.sin(np.pi * s) * UP
    return at


def _brush(path):
    return lambda t: np.concatenate([path(t), [0.0, 0.0, 0.0, 1.0]])


def _run(engine, source, start, seconds, every=None):
    frames = []
    for i in range(start, start + int(seconds * RATE)):
        t = i / RATE
        engine.frame(t, 1 / RATE, render=False)
        scene = engine.scene
        frames.append((t, None if scene.shown is None else scene.drawn_at.copy(),
                       None if scene.shown is None else dict(scene.shown)))
        if every is not None:
            every(t)
    return frames


def test_a_synchronous_stroke_on_the_intact_arm_is_drawn_mirrored_in_the_same_frame(display):
    engine, source, start = _engine(display, delay_s=0.0)
    pos = engine.core.intact.positions
    elbow, wrist = pos[1].copy(), pos[2].copy()
    tip = _path(elbow + 0.2 * (wrist - elbow), elbow + 0.9 * (wrist - elbow),
                   start / RATE + 0.1)
    source.brush = _brush(tip)
    frames = _run(engine, source, start, 3.0)
    strokes = engine.scene.strokes
    engine.close()
    drawn = [(t, d) for t, d, place in frames if place is not None and place["touching"]]
    assert len(drawn) >= 3 * STROKE_S * RATE
    same = [np.linalg.norm(d - mirror_point(engine, tip(t))) for t, d in drawn]
    previous = [np.linalg.norm(d - mirror_point(engine, tip(t - 1 / RATE))) for t, d in drawn]
    # drawn where this frame's brush touches, mirrored: no frame added (a frame late would
    # be 4 mm off at this stroke's speed)
    assert max(same) < 0.001 and min(previous) > 0.003
    assert len(strokes) == 3
    for k in strokes:
        assert (k["surface"], k["segment"], k["delay_s"]) == ("intact", "forearm", 0.0)
        assert k["drawn_start"] == k["t_start"] and not k["haptic"]
        assert k["t_end"] - k["t_start"] == pytest.approx(STROKE_S, abs=0.2)  # + the brush
        # coming down onto and lifting off the limb within the contact distance
        assert k["u_end"] > k["u_start"]
        along = 70 * np.linalg.norm(wrist - elbow)      # cm: 0.2 .. 0.9 of the forearm
        assert along <= k["path_cm"] <= along + 10.0    # + coming down and lifting off


def test_a_delayed_stroke_is_drawn_the_set_delay_later_to_within_a_frame(display):
    delay = 0.3
    engine, source, start = _engine(display, delay_s=delay, haptic=True)
    pos = engine.core.intact.positions
    elbow, wrist = pos[1].copy(), pos[2].copy()
    tip = _path(elbow + 0.2 * (wrist - elbow), elbow + 0.9 * (wrist - elbow),
                   start / RATE + 0.1)
    source.brush = _brush(tip)
    frames = _run(engine, source, start, 3.5)
    strokes = engine.scene.strokes
    engine.close()
    times = [t for t, _, _ in frames]
    lag = round(delay * RATE)
    for k, (t, d, place) in enumerate(frames):
        if place is None or not place["touching"]:
            continue
        # the brush drawn now is where the real one touched exactly ``lag`` frames ago
        # (the strokes repeat: the latest frame at or before this one whose brush it shows)
        shows = [j for j, s in enumerate(times[:k + 1])
                 if np.linalg.norm(d - mirror_point(engine, tip(s))) < 0.001]
        assert shows and k - shows[-1] == lag
    assert len(strokes) == 3 and len(source.pulses) == 3
    for k in strokes:
        assert k["drawn_start"] - k["t_start"] == pytest.approx(delay, abs=1.0 / RATE)
        assert k["drawn_end"] - k["t_end"] == pytest.approx(delay, abs=1.0 / RATE)
        assert k["haptic"] and k["delay_s"] == delay
    assert all(side == engine.core.intact_side for side, _, _ in source.pulses)


def test_a_stroke_along_the_residual_limb_runs_down_the_phantom(display):
    engine, source, start = _engine(display)
    core = engine.core
    pos = core.phantom.positions
    elbow, wrist = pos[1].copy(), pos[2].copy()
    frac = core.layout.residual_fraction
    tip = _path(elbow + 0.4 * frac * (wrist - elbow), elbow + 0.95 * frac * (wrist - elbow),
                   start / RATE + 0.1, n=1)
    source.brush = _brush(tip)
    frames = _run(engine, source, start, 0.8)
    (stroke,) = engine.scene.strokes
    engine.close()
    assert stroke["surface"] == "residual" and stroke["segment"] == "forearm"
    shown = [(t, d, place) for t, d, place in frames if place is not None and place["touching"]
             and t < start / RATE + 0.1 + STROKE_S]
    t, d, place = shown[-1]
    # near the stump end the brush is drawn far down the phantom: past the wrist
    assert place["surface"] == "residual" and place["u"] <= place["end_u"]
    assert np.linalg.norm(d - elbow) > np.linalg.norm(wrist - elbow)
    assert stroke["drawn_u"] > stroke["u_start"]


def test_one_step_calibration_finds_the_brush_tip(display):
    engine, source, start = _engine(display)
    wrist = engine.core.intact.positions[2].copy()
    turn = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), 0.7)
    offset = np.array([0.0, 0.12, 0.0])                 # the tip 12 cm along the brush
    origin = wrist - quat_rotate(turn, offset)
    source.brush = lambda _t: np.concatenate([origin, turn])
    _run(engine, source, start, 0.1)
    scene = engine.scene
    assert not scene.calibrated
    scene.set_param("calibrate", True)
    _run(engine, source, start + 10, 0.05)
    (event,) = [e for e in engine.events.history if e.kind == "param_changed"
                and e.data["name"] == "touch.brush_tip"]
    engine.close()
    assert scene.calibrated and not scene.difficulty["calibrate"]
    np.testing.assert_allclose(scene.offset, offset, atol=1e-6)
    assert event.data["new"] == pytest.approx(list(offset), abs=1e-4)


def test_brush_map_and_delay_line_units():
    from vrgmi.ik.solver import ArmSolver
    names = ArmSolver.joint_names
    intact, phantom = np.zeros((len(names), 3)), np.zeros((len(names), 3))
    chain = [names.index(n) for n in ("shoulder", "elbow", "wrist", "middle_tip")]
    intact[chain] = [[0.2, 0, 1.4], [0.2, 0, 1.1], [0.2, 0, 0.85], [0.2, 0, 0.65]]
    phantom[chain] = intact[chain] * [-1, 1, 1]
    torso = np.array([0, 0, 1.0, 0, 0, 0, 1.0])
    m = BrushMap("arm", names, 1, 0.5, 0.05)
    out = np.zeros(3)
    place = m.locate(np.array([0.23, 0.0, 1.0]), intact, phantom, torso)
    assert place["surface"] == "intact" and place["touching"]
    assert m.draw_point(place, phantom, torso, out) == pytest.approx([-0.23, 0.0, 1.0])
    assert m.locate(np.array([0.2, 0.5, 1.0]), intact, phantom, torso) is None
    # the stump end (half the forearm) stretches to the finger tip
    end = m.locate(np.array([-0.2, 0.0, 0.975]), intact, phantom, torso)
    assert end["surface"] == "residual"
    assert m.draw_point(end, phantom, torso, out) == pytest.approx([-0.2, 0.0, 0.65])
    # a leg: a touch on the intact shin lands on the phantom shin, mirrored
    from vrgmi.ik.solver import LegSolver
    names = LegSolver.joint_names
    intact, phantom = np.zeros((len(names), 3)), np.zeros((len(names), 3))
    chain = [names.index(n) for n in ("hip", "knee", "ankle", "toe_tip")]
    intact[chain] = [[0.1, 0, 0.5], [0.1, 0.45, 0.5], [0.1, 0.45, 0.07], [0.1, 0.65, 0.0]]
    phantom[chain] = intact[chain] * [-1, 1, 1]
    leg = BrushMap("leg", names, 1, 0.5, 0.05)
    shin = leg.locate(np.array([0.1, 0.48, 0.2]), intact, phantom, torso)
    assert (shin["surface"], shin["segment"], shin["touching"]) == ("intact", "shank", True)
    assert leg.draw_point(shin, phantom, torso, out) == pytest.approx([-0.1, 0.48, 0.2])
    line = DelayLine(100)
    for k in range(60):
        line.push(k / 90.0, k)
    assert line.at(59 / 90.0, 0.0) == 59
    assert line.at(59 / 90.0, 0.3) == 59 - 27
    assert line.at(59 / 90.0, 1.0) is None
