"""Foot targets: tap glowing discs on the floor with the mirrored foot (mirror therapy)."""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.i18n import N_
from vrgmi.mirror.lower import FootTapTask, foot_targets
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import COMMON_TRIAL_FIELDS, TargetTaskScene, resting_foot_view
from vrgmi.scenes.schema import Param

#: LEG_JOINT_NAMES index of the ball of the foot, the point that taps
BALL = 4
#: floor targets stay this far (m) in front of the torso origin: clear of the chair and
#: beyond the knees, which hide the floor nearer than about 0.55 m from a seated eye
MIN_FORWARD_M = 0.50
#: the toes reach about this many foot lengths medially of the ball when the foot turns in:
#: a disc's centre stays this much beyond the midline clearance
FOOT_MEDIAL_FRACTION = 0.25


class FootTargets(TargetTaskScene):
    """Discs light up on the floor around the missing foot; the patient moves the intact
    foot and watches the mirrored foot tap them, in order. A disc is only placed where the
    patient's eye sees it past both seated legs (as they are when the trial starts)."""

    name = "foot_targets"
    description = "tap glowing discs on the floor with the mirrored foot"
    limbs = ("leg",)
    params = (
        Param("distance_m", "float", 0.3, "how far the discs are from the resting foot",
              0.05, 0.4, unit="m"),
        Param("target_radius_m", "float", 0.07, "disc size (radius)", 0.03, 0.15, unit="m"),
        Param("time_limit_s", "float", 8.0, "seconds allowed for each disc", 2.0, 60.0,
              unit="s"),
        Param("sequence_length", "int", 1, "discs to tap in order in one trial", 1, 6),
        Param("dwell_s", "float", 0.1, "seconds the foot stays down on a disc", 0.0, 2.0,
              unit="s"),
        Param("trials", "int", 10, "trials in this scene", 1, 100),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "target_positions": "disc centres on the floor, engine space (m)",
                    "targets_hit": "discs tapped in order",
                    "hit_times_s": "time of each tap from trial onset (s)",
                    "radius_m": "disc radius (m)", "dwell_s": "dwell required (s)"}
    instruction = N_("Tap the glowing disc with your mirrored foot")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> FootTapTask:
        core = ctx.core
        legs = np.zeros((4, 2, 3))

        def targets(_index: int):
            d = self.difficulty
            home, eye, seated = resting_foot_view(core, legs)
            return foot_targets(self.rng, home, core.torso.pose, core.amputated,
                                d["distance_m"], d["sequence_length"], d["target_radius_m"],
                                MIN_FORWARD_M, eye, seated,
                                core.clearance_m + FOOT_MEDIAL_FRACTION * core.lengths.foot)

        d = self.difficulty
        return FootTapTask(targets, d["target_radius_m"], d["dwell_s"], d["time_limit_s"],
                           d["trials"], rest_s=1.0, rate_hz=rate_hz)

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.markers = self.build_markers(ctx, [f"disc{k}" for k in range(6)], floor=True)

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        return self.task.update(frame.t, self.effector(frame, BALL))
