"""Where the scripted patient puts the mirrored hand or foot in the functional object tasks
(shared by test_functional_mirror and test_object_contact): the wiping spiral, the ball
rolled onto its spot, the cushion pressed into its band."""
from __future__ import annotations

import math

import numpy as np

from mirror_patient import FLAT, mirror_point
from vrgmi.mirror.floor import BALL_RADIUS_M
from vrgmi.mirror.lower import HEEL_FOOT_FRACTION, PEDAL_FROM_FOOT
from vrgmi.spatial import quat_from_axis_angle, quat_rotate


def wipe_spiral(centre: np.ndarray, t: float, task) -> np.ndarray:
    """The palm over ``centre`` for the first second of the trial, then wiping a widening
    circle (to 10 cm) on it."""
    s = t - task.onset - 1.0
    if s <= 0.0:
        return centre + (0.0, 0.0, 0.05)
    r, a = min(0.10, 0.015 + 0.022 * s), 2.0 * math.pi * 0.7 * s
    return centre + (r * math.cos(a), r * math.sin(a), 0.0)


def ball_rolled_at(t: float, task) -> np.ndarray:
    """The ball of the foot above the ball until it is on it, then keeping its offset on
    the ball while rolling it to the target spot."""
    if not task.on_ball:
        return task.ball + (0.0, 0.0, BALL_RADIUS_M + 0.04)
    return task.spots[1] + (task.foot - task.ball) * (1.0, 1.0, 0.0) \
        + (0.0, 0.0, task.foot[2])


def cushion_press_goal(engine, press_hold):
    """The intact ankle's goal (position, rotation) at ``t``: the mirrored heel on the
    cushion's heel mark, the toes up at its rest angle, pressed to the band's middle from
    0.8 s into the trial."""
    core = engine.core
    foot, ankle_h = core.lengths.foot, core.lengths.ankle_height
    heel_to_ankle = np.array([0.0, HEEL_FOOT_FRACTION * foot, ankle_h])

    def goal(t):
        task = press_hold.task
        rest = np.array([0.09, 0.32, ankle_h])
        if not task.active or task.plate is None:
            return rest, FLAT
        plate = task.plate
        heel = mirror_point(engine, plate.hinge - (HEEL_FOOT_FRACTION + PEDAL_FROM_FOOT)
                            * foot * plate.forward)
        up = task.rest_deg
        if t - task.onset >= 0.8:
            up -= 0.5 * (task.band[0] + task.band[1])       # press to the band's middle
        q = quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), math.radians(up))
        return heel + quat_rotate(q, heel_to_ankle), q
    return goal
