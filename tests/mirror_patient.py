"""What the mirror scene tests share: a scripted seated patient (a pose source whose intact
hand or foot moves toward a goal so that the mirrored one does the task), the mirror of a
point about the body midline, a frame loop, and how much of an object the patient sees."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from vrgmi.body.foot import foot_tracker_from_ankle
from vrgmi.body.hand import REST_WRIST_QUAT, grip_from_wrist
from vrgmi.body.mirror import mirror_points_kernel
from vrgmi.render.display import grab_rgba
from vrgmi.spatial import quat_from_axis_angle, quat_mul
from vrgmi.tracking.frame import TRACKER_INDEX, PoseSource, TrackingFrame

RATE = 90.0
X_AXIS = np.array([1.0, 0.0, 0.0])
PALM_DOWN = quat_mul(quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), -math.pi / 2),
                     quat_from_axis_angle(X_AXIS, math.radians(80.0)))
FLAT = np.array([0.0, 0.0, 0.0, 1.0])
#: the seated patient looks down at the feet in leg tasks
HEAD_LEG_PITCH_DEG = -45.0
ARM_REST = (0.20, 0.20, 0.85)
ANKLE_REST = (0.09, 0.32, 0.07)


def turn_toward(q: np.ndarray, goal: np.ndarray, step: float) -> np.ndarray:
    """``q`` turned at most ``step`` radians toward ``goal`` (unit quaternions)."""
    d = float(np.dot(q, goal))
    if d < 0.0:
        goal, d = -goal, -d
    angle = 2.0 * math.acos(min(1.0, d))
    if angle <= step or angle < 1e-9:
        return np.asarray(goal, dtype=np.float64).copy()
    k = step / angle
    out = (1.0 - k) * q + k * goal
    return out / np.linalg.norm(out)


class SeatedPatient(PoseSource):
    """A seated patient (intact right side) whose intact wrist (arm) or ankle (leg) glides
    toward ``goal(t) -> (position, rotation)`` or None (a callable set once the engine
    exists) with time constant ``tau_s``; the rotation is taken at once, or turned at most
    ``turn_deg_s`` per second. The head stays still, pitched ``arm_pitch_deg`` (arm tasks)
    or :data:`HEAD_LEG_PITCH_DEG` (leg tasks). ``residual() -> (7,) pose or None`` feeds a
    left wrist tracker on the residual limb; ``grip(t) -> 0..1`` (None: 0) is how far the
    controller's trigger and grip are pressed (the hand's fingers close with them)."""

    name = "test-patient"

    def __init__(self, limb: str, arm_pitch_deg: float = -20.0, tau_s: float = 0.15,
                 turn_deg_s: float | None = None) -> None:
        self.limb = limb
        self.tau_s = tau_s
        self.turn_rad_s = None if turn_deg_s is None else math.radians(turn_deg_s)
        pitch = arm_pitch_deg if limb == "arm" else HEAD_LEG_PITCH_DEG
        self.head = np.array([0.0, 0.0, 1.2, *quat_from_axis_angle(X_AXIS, math.radians(pitch))])
        self.goal: Callable[[float], tuple[np.ndarray, np.ndarray] | None] | None = None
        self.residual: Callable[[], np.ndarray | None] | None = None
        self.grip: Callable[[float], float] | None = None
        self.pos = np.array(ARM_REST if limb == "arm" else ANKLE_REST)
        self.rot = PALM_DOWN.copy() if limb == "arm" else FLAT.copy()
        self._last = None

    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        dt = 0.0 if self._last is None else display_time - self._last
        self._last = display_time
        want = self.goal(display_time) if self.goal is not None else None
        if want is not None:
            pos, rot = want
            self.pos += (1.0 - math.exp(-dt / self.tau_s)) * (pos - self.pos)
            self.rot = rot if self.turn_rad_s is None else \
                turn_toward(self.rot, rot, self.turn_rad_s * dt)
        frame.t = display_time
        frame.head[:] = self.head
        frame.head_valid = True
        frame.grip_valid[:] = False
        frame.tracker_valid[:] = False
        if self.limb == "arm":
            wrist = np.concatenate([self.pos, quat_mul(self.rot, REST_WRIST_QUAT)])
            grip_from_wrist(wrist, 1, frame.grip[1])
            frame.grip_valid[1] = True
            frame.trigger[1] = frame.squeeze[1] = \
                0.0 if self.grip is None else self.grip(display_time)
        else:
            foot_tracker_from_ankle(np.concatenate([self.pos, self.rot]), 0.152 * 1.75,
                                    frame.tracker[TRACKER_INDEX["right_foot"]])
            frame.tracker_valid[TRACKER_INDEX["right_foot"]] = True
        if self.residual is not None:
            pose = self.residual()
            if pose is not None:
                frame.tracker[TRACKER_INDEX["left_wrist"]] = pose
                frame.tracker_valid[TRACKER_INDEX["left_wrist"]] = True
        return True


def mirror_point(engine, point) -> np.ndarray:
    """``point`` (3,) mirrored about the engine's body midline (the torso frame)."""
    out = np.zeros((1, 3))
    mirror_points_kernel(np.asarray(point, dtype=np.float64)[None, :], engine.core.torso.pose,
                         out)
    return out[0]


def run_frames(engine, seconds: float, start: int = 0, render_every: int = 30,
               recorder=None) -> int:
    """``seconds`` of frames at :data:`RATE` from frame ``start`` (drawing every
    ``render_every``-th, recording each into ``recorder``); the next frame's number."""
    n = int(seconds * RATE)
    for i in range(start, start + n):
        engine.frame(i / RATE, 1 / RATE, render=(i % render_every == 0))
        if recorder is not None:
            recorder.append(engine.core.frame)
    return start + n


def _isolate(node):
    """Hide everything but ``node`` (the siblings along its path); the hidden nodes."""
    hidden = []
    path = node
    while not path.get_parent().is_empty():
        for sibling in path.get_parent().get_children():
            if sibling != path and not sibling.is_hidden():
                sibling.hide()
                hidden.append(sibling)
        path = path.get_parent()
    return hidden


def visible_fraction(base, node) -> float:
    """The share of ``node``'s pixels (drawn alone) that the full scene still shows: a
    pixel is occluded when showing or hiding the node leaves it unchanged."""
    def shot(alone, shown):
        hidden = _isolate(node) if alone else []
        if not shown:
            node.hide()
        rgb = grab_rgba(base)[..., :3].astype(np.int32)
        node.show()
        for h in hidden:
            h.show()
        return rgb

    def changed(a, b):
        return np.abs(a - b).sum(axis=-1) > 12

    mask = changed(shot(True, True), shot(True, False))
    seen = changed(shot(False, True), shot(False, False)) & mask
    assert mask.sum() > 20, f"{node.get_name()} is not in the patient's view at all"
    return float(seen.sum()) / float(mask.sum())
