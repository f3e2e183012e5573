"""Ankle circles: draw slow circles with the mirrored foot's toes (mirror therapy)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from vrgmi.i18n import N_
from vrgmi.mirror.lower import (TOE_FOOT_FRACTION, AnkleCircleTask, foot_angles,
                                forward_ankle)
from vrgmi.mirror.trial import lateral_sign, yaw_axes
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.foot_targets import BALL
from vrgmi.scenes.mirror_common import COMMON_TRIAL_FIELDS, MirrorTaskScene, TargetMarker
from vrgmi.scenes.schema import Param

#: LEG_JOINT_NAMES index of the ankle (its rotation is the foot's)
ANKLE = 2
#: progress beads around the circle guide in front of the foot
BEADS = 16
GUIDE_RADIUS_M = 0.08
#: the ring's centre: this far (m) beyond the forward foot's toe tip, this high (m)
GUIDE_GAP_M = 0.10
GUIDE_HEIGHT_M = 0.16


class AnkleCircles(MirrorTaskScene):
    """The patient lifts the intact foot a little forward, circles it at the ankle and
    watches the mirrored foot circle; a ring of beads in front of the forward foot (in
    view past the knee) fills as each circle completes."""

    name = "ankle_circles"
    description = "slow circles with the mirrored foot's toes"
    limbs = ("leg",)
    params = (
        Param("min_amplitude_deg", "float", 8.0, "smallest circle that counts (mean radius "
              "of the toe direction)", 2.0, 30.0, unit="deg"),
        Param("min_roundness", "float", 0.3, "smallest / largest radius a circle needs",
              0.0, 0.9),
        Param("direction", "choice", "either", "circle direction as the patient sees the foot",
              choices=AnkleCircleTask.DIRECTIONS),
        Param("time_limit_s", "float", 12.0, "seconds allowed per circle", 3.0, 60.0,
              unit="s"),
        Param("trials", "int", 8, "circles in this scene", 1, 50),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "circles": "signed turns of the toe direction (+ = counterclockwise as "
                               "seen by the patient)",
                    "completeness": "|turns| capped at 1",
                    "amplitude_deg": "mean radius of the toe-direction circle (deg)",
                    "roundness": "smallest / largest radius (1 = a circle)",
                    "direction": "direction asked for"}
    instruction = N_("Draw slow circles with your mirrored foot")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> AnkleCircleTask:
        d = self.difficulty
        return AnkleCircleTask(d["min_amplitude_deg"], d["min_roundness"], d["time_limit_s"],
                               d["trials"], d["direction"], rest_s=1.0, rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.min_amplitude_deg = d["min_amplitude_deg"]
        task.min_roundness = d["min_roundness"]
        task.direction = d["direction"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.guide = ctx.root.attach_new_node("ankle-guide")
        self.beads = [TargetMarker(self.guide, ctx.base, 0.012, name=f"bead{k}")
                      for k in range(BEADS)]
        self._placed = False

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        torso = self.ctx.core.torso.pose
        if frame.phantom_visibility > 0.0:
            right, up = foot_angles(frame.phantom.rotations[ANKLE], torso)
        else:
            right = up = math.nan
        return self.task.update(frame.t, self.effector(frame, BALL), right, up)

    def _place_beads(self) -> None:
        """A vertical ring facing the patient, just beyond the toes of the phantom foot put
        forward (:func:`vrgmi.mirror.lower.forward_ankle`), a little above the floor."""
        core = self.ctx.core
        L = core.lengths
        side = core.amputated
        right, fwd = yaw_axes(core.torso.pose)
        ankle = forward_ankle(core.torso.hip(side), core.torso.pose, L.thigh, L.shank,
                              L.ankle_height)
        centre = ankle + (TOE_FOOT_FRACTION * L.foot + GUIDE_GAP_M) * fwd
        centre[2] = GUIDE_HEIGHT_M
        for k, bead in enumerate(self.beads):
            a = 2.0 * math.pi * k / BEADS
            bead.place(centre + GUIDE_RADIUS_M * (math.cos(a) * lateral_sign(1) * right
                                                  + np.array([0.0, 0.0, math.sin(a)])))

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not self._placed and self.ctx.core.torso.initialized:
            self._place_beads()
            self._placed = True
        lit = int(min(abs(task.turns), 1.0) * BEADS) if task.active else 0
        for k, bead in enumerate(self.beads):
            bead.set_state(("current" if k < lit else "waiting") if task.active else "hidden")
            bead.animate(frame.t)
