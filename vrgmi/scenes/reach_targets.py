"""Reach targets: touch glowing targets with the mirrored hand, in order (mirror therapy)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from vrgmi.i18n import N_
from vrgmi.mirror.reach import ReachTask, arm_reach, reach_targets
from vrgmi.render.environment import TABLE_TOP_X, TABLE_TOP_Y, TABLE_TOP_Z
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import COMMON_TRIAL_FIELDS, TargetTaskScene
from vrgmi.scenes.schema import Param

#: ARM_JOINT_NAMES index of the palm centre, the point that touches targets
PALM = 3
#: targets stay this far (m) above the table top, plus their radius
TABLE_CLEARANCE_M = 0.05
#: the hand's joints reach about this many hand lengths medially of the palm centre (thumb
#: and fingers, palm down): a target's centre stays this much beyond the midline clearance
HAND_MEDIAL_FRACTION = 0.5


def table_targets(scene: TargetTaskScene, ctx: SceneContext,
                  count: int | None = None) -> Callable[[int], np.ndarray]:
    """The ``make_targets`` of a reach task: each trial's targets around the phantom
    shoulder, clear of the table, seen over it from the patient's eye (where the reach
    allows) and on the phantom's side of the midline, from the scene's
    difficulty values at the trial's start (``distance``, ``target_radius_m``); ``count``
    of them, or ``sequence_length``."""
    core = ctx.core
    side, L = core.amputated, core.lengths
    reach = arm_reach(L.upper_arm, L.forearm, L.hand)
    min_lateral = core.clearance_m + HAND_MEDIAL_FRACTION * L.hand

    def targets(_index: int) -> np.ndarray:
        d = scene.difficulty
        return reach_targets(scene.rng, core.torso.shoulder(side).copy(), core.torso.pose,
                             side, reach, d["distance"],
                             d["sequence_length"] if count is None else count,
                             d["target_radius_m"],
                             TABLE_TOP_Z + TABLE_CLEARANCE_M + d["target_radius_m"],
                             min_lateral, table=(TABLE_TOP_X, TABLE_TOP_Y, TABLE_TOP_Z),
                             eye=core.frame.head[:3].copy() if core.frame.head_valid
                             else None)

    return targets


class ReachTargets(TargetTaskScene):
    """Targets appear where the missing arm would reach; the patient moves the intact arm
    and watches the mirrored hand touch them, one after the other."""

    name = "reach_targets"
    description = "touch glowing targets with the mirrored hand, in order"
    limbs = ("arm",)
    params = (
        Param("distance", "float", 0.6, "how far the targets are, as a fraction of the arm's "
              "reach", 0.3, 0.95),
        Param("target_radius_m", "float", 0.06, "target size (radius)", 0.03, 0.15, unit="m"),
        Param("time_limit_s", "float", 10.0, "seconds allowed for each target", 2.0, 60.0,
              unit="s"),
        Param("sequence_length", "int", 1, "targets to touch in order in one trial", 1, 6),
        Param("dwell_s", "float", 0.3, "seconds the hand must stay on a target", 0.0, 2.0,
              unit="s"),
        Param("trials", "int", 10, "trials in this scene", 1, 100),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "target_positions": "target centres, engine space (m)",
                    "targets_hit": "targets reached in order",
                    "hit_times_s": "time of each hit from trial onset (s)",
                    "radius_m": "target radius (m)", "dwell_s": "dwell required (s)"}
    instruction = N_("Touch the glowing target with your mirrored hand")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> ReachTask:
        d = self.difficulty
        return ReachTask(table_targets(self, ctx), d["target_radius_m"], d["dwell_s"],
                         d["time_limit_s"], d["trials"], rest_s=1.0, rate_hz=rate_hz)

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.markers = self.build_markers(ctx, [f"target{k}" for k in range(6)])

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        return self.task.update(frame.t, self.effector(frame, PALM))

    def panel_text(self, frame: SceneFrame) -> str:
        text = super().panel_text(frame)
        task = self.task
        if task.active and len(task.targets) > 1:
            text += f" - target {task.current + 1} of {len(task.targets)}"
        return text
