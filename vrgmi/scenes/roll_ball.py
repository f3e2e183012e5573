"""Roll a ball: roll the ball under the mirrored foot onto the glowing spot on the floor (a
functional mirror task; logic in :class:`vrgmi.mirror.floor.RollBallTask`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.mirror.floor import BALL_RADIUS_M, RollBallTask
from vrgmi.mirror.lower import foot_targets, in_view
from vrgmi.mirror.trial import lateral_sign, yaw_axes
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.foot_targets import BALL, MIN_FORWARD_M
from vrgmi.scenes.mirror_common import (FLOOR_Z_M, MirrorTaskScene, TargetMarker,
                                        resting_foot_view)
from vrgmi.scenes.objects_common import OBJECT_TRIAL_FIELDS, ball, place
from vrgmi.scenes.schema import Param

#: the ball starts this far (m) straight ahead of the resting foot, clear of the sole
BALL_START_M = 0.22
#: the target stays this far (m) out from the body midline (the feet need not cross)
MIN_LATERAL_M = 0.10
#: the ball's colour, and the stripe that shows it roll
#: LEG_JOINT_NAMES of the foot (ankle, heel, ball, toe tip), and how far (m) they stay
#: outside a new ball
FOOT_JOINTS = slice(2, None)
FOOT_CLEARANCE_M = 0.03
BALL_HEX = "#d8694f"
STRIPE_HEX = "#f4efe4"


def roll_spots(rng: np.random.Generator, core: Any, distance_m: float,
               target_radius_m: float) -> np.ndarray:
    """The ball's start (straight ahead of the missing foot's resting place) and the target
    (2, 3): ``distance_m`` from the ball, out on the missing side (at least
    :data:`MIN_LATERAL_M` from the midline), both in view past the seated legs; the ball
    never appears around the mirrored foot (it goes further ahead, clear of it)."""
    side, torso = core.amputated, core.torso.pose
    right, fwd = yaw_axes(torso)
    lat = lateral_sign(side) * right
    home, eye, legs = resting_foot_view(core, np.zeros((4, 2, 3)))
    start = home + BALL_START_M * fwd
    if eye is not None:
        for _step in range(8):                   # forward until the ball is seen past the knee
            if in_view(eye, start + (0.0, 0.0, BALL_RADIUS_M), legs, BALL_RADIUS_M):
                break
            start = start + 0.02 * fwd
    foot = core.phantom.positions[FOOT_JOINTS]
    for _step in range(15):
        centre = start + (0.0, 0.0, BALL_RADIUS_M)
        if np.linalg.norm(foot - centre, axis=1).min() >= BALL_RADIUS_M + FOOT_CLEARANCE_M:
            break
        start = start + 0.02 * fwd
    for _step in range(100):
        goal = foot_targets(rng, start, torso, side, distance_m, 1, target_radius_m,
                            MIN_FORWARD_M, eye, legs)[0]
        if (goal - torso[:3]) @ lat >= MIN_LATERAL_M:
            break
    return np.stack([start, goal])


class RollBall(MirrorTaskScene):
    """A ball lies on the floor in front of the missing foot; the patient puts the intact
    foot's sole on an imagined ball and watches the mirrored foot roll the real-looking
    one onto the glowing spot."""

    name = "roll_ball"
    description = "roll a ball under the mirrored foot onto the glowing spot"
    limbs = ("leg",)
    params = (
        Param("distance_m", "float", 0.25, "how far the spot is from the resting foot",
              0.1, 0.4, unit="m"),
        Param("target_radius_m", "float", 0.08, "spot size (radius)", 0.04, 0.15, unit="m"),
        Param("dwell_s", "float", 0.3, "seconds the ball stays on the spot", 0.0, 2.0,
              unit="s"),
        Param("time_limit_s", "float", 20.0, "seconds allowed per roll", 5.0, 120.0,
              unit="s"),
        Param("trials", "int", 6, "rolls in this scene", 1, 50),
    )
    trial_fields = {**OBJECT_TRIAL_FIELDS,
                    "ball_end": "where the ball ended, engine space (m)",
                    "final_error_m": "ball centre to spot centre at the end (m)",
                    "ball_path_m": "how far the ball rolled (m)",
                    "contact_s": "seconds the sole was on the ball",
                    "target_radius_m": "spot radius (m)"}
    instruction = N_("Roll the ball onto the glowing spot")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> RollBallTask:
        d = self.difficulty

        def spots(_index: int) -> np.ndarray:
            return roll_spots(self.rng, ctx.core, self.difficulty["distance_m"],
                              self.difficulty["target_radius_m"])
        return RollBallTask(spots, d["target_radius_m"], d["dwell_s"], d["time_limit_s"],
                            d["trials"], rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.target_radius_m = d["target_radius_m"]
        task.dwell.hold_s = d["dwell_s"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.ball = ctx.root.attach_new_node("ball")
        ball(self.ball, ctx.base, "ball-body", BALL_RADIUS_M, BALL_HEX)
        stripe = ball(self.ball, ctx.base, "ball-stripe", BALL_RADIUS_M * 1.01, STRIPE_HEX)
        stripe.set_scale(BALL_RADIUS_M * 1.01, BALL_RADIUS_M * 0.35, BALL_RADIUS_M * 1.01)
        self.spot = TargetMarker(ctx.root, ctx.base, self.task.target_radius_m, floor=True,
                                 name="ball-spot")
        self.ball.hide()
        self.spot.set_state("hidden")

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        return self.task.update(frame.t, self.effector(frame, BALL),
                                frame.phantom.positions[FOOT_JOINTS]
                                if frame.phantom_visibility > 0.0 else None)

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active:
            self.ball.hide()
            self.spot.set_state("hidden")
            return
        place(self.ball, task.ball + (0.0, 0.0, FLOOR_Z_M))
        # the stripe turns as the ball rolls (about the torso's sideways axis)
        self.ball.set_h(float(np.degrees(self.ctx.core.torso.yaw)))
        self.ball.set_p(float(-np.degrees(task.ball_path / BALL_RADIUS_M)))
        if self.spot.radius != task.target_radius_m:
            self.spot.set_radius(task.target_radius_m)
        self.spot.place(task.spots[1])
        self.spot.set_state("current")
        self.spot.animate(frame.t)
        self.ball.show()

    def task_line(self, frame: SceneFrame) -> str:
        return (_("Roll it onto the glowing spot") if self.task.on_ball
                else _("Put your mirrored foot on the ball"))
