"""Bilateral: both hands reach together for a pair of mirror-image targets (mirror therapy)."""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.body.mirror import mirror_points_kernel
from vrgmi.mirror.bilateral import BilateralTask, residual_point_index
from vrgmi.mirror.reach import arm_reach, reach_targets
from vrgmi.render.environment import TABLE_TOP_Z
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import (COMMON_TRIAL_FIELDS, MirrorTaskScene, TargetMarker,
                                        draw_sequence)
from vrgmi.scenes.reach_targets import PALM, TABLE_CLEARANCE_M
from vrgmi.scenes.schema import Param


class Bilateral(MirrorTaskScene):
    """A target for each hand, mirror images of each other: the patient moves both arms
    together, the intact one and the residual one, while watching the mirrored hand."""

    name = "bilateral"
    description = "both hands reach together for mirror-image targets"
    limbs = ("arm",)
    params = (
        Param("distance", "float", 0.6, "how far the targets are, as a fraction of the arm's "
              "reach", 0.3, 0.95),
        Param("target_radius_m", "float", 0.07, "target size (radius)", 0.03, 0.15, unit="m"),
        Param("pace_s", "float", 2.0, "the pace: seconds to reach the targets together",
              0.5, 10.0, unit="s"),
        Param("time_limit_s", "float", 10.0, "seconds allowed per trial", 2.0, 60.0,
              unit="s"),
        Param("dwell_s", "float", 0.3, "seconds both hands stay on the targets", 0.0, 2.0,
              unit="s"),
        Param("trials", "int", 10, "trials in this scene", 1, 100),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "target_positions": "the phantom-side target centre, engine space (m)",
                    "targets_hit": "1 when the pair was reached",
                    "hit_times_s": "time of the hit from trial onset (s)",
                    "pace_s": "the pacing cue (s)",
                    "timing_error_s": "hit time minus the pace (s), null on a timeout",
                    "residual_tracked_fraction": "share of frames with the residual limb "
                                                 "tracked (symmetry needs >= 0.8)",
                    "radius_m": "target radius (m)", "dwell_s": "dwell required (s)"}
    instruction = "Move both hands together to the two targets"

    def make_task(self, ctx: SceneContext, rate_hz: float) -> BilateralTask:
        core = ctx.core
        side, L = core.amputated, core.lengths
        reach = arm_reach(L.upper_arm, L.forearm, L.hand)
        self._index = residual_point_index(core.level.stump_segment)
        self._pair = np.zeros((2, 3))
        self._mirrored = np.zeros((2, 3))

        def targets(_index: int):
            d = self.difficulty
            return reach_targets(self.rng, core.torso.shoulder(side).copy(), core.torso.pose,
                                 side, reach, d["distance"], 1, d["target_radius_m"],
                                 TABLE_TOP_Z + TABLE_CLEARANCE_M + d["target_radius_m"])

        d = self.difficulty
        return BilateralTask(targets, d["target_radius_m"], d["dwell_s"], d["time_limit_s"],
                             d["trials"], d["pace_s"], rest_s=1.0, rate_hz=rate_hz)

    def configure(self) -> None:
        d, task = self.difficulty, self.task
        task.radius_m = d["target_radius_m"]
        task.dwell.hold_s = d["dwell_s"]
        task.time_limit_s = d["time_limit_s"]
        task.pace_s = d["pace_s"]
        task.trials = max(d["trials"], len(task.results))
        for marker in getattr(self, "markers", ()):
            marker.set_radius(task.radius_m)

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.markers = [TargetMarker(ctx.root, ctx.base, self.task.radius_m, name="phantom")]
        self.intact_marker = TargetMarker(ctx.root, ctx.base, self.task.radius_m,
                                          name="intact")
        for m in self.markers + [self.intact_marker]:
            m.set_state("hidden")

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        core = self.ctx.core
        self._pair[0] = frame.intact.positions[PALM]
        self._pair[1] = frame.intact.positions[self._index]
        mirror_points_kernel(self._pair, core.torso.pose, self._mirrored)
        effector = self.effector(frame, PALM)
        palm = self._mirrored[0] if frame.phantom_visibility > 0.0 else effector
        residual = mirrored = None
        if core.residual_tracked and frame.phantom_visibility > 0.0:
            mirrored = self._mirrored[1]
            residual = frame.phantom.positions[self._index]
        return self.task.update(frame.t, effector, palm, mirrored, residual)

    def draw(self, frame: SceneFrame) -> None:
        draw_sequence(self.markers, self.task, frame.t, self.last_success)
        intact = self.intact_marker
        if self.task.active:
            self._pair[0] = self.task.targets[0]
            mirror_points_kernel(self._pair[:1], self.ctx.core.torso.pose, self._mirrored[:1])
            intact.place(self._mirrored[0])
        intact.set_state(self.markers[0].state, frame.t)
        intact.animate(frame.t)

    def panel_text(self, frame: SceneFrame) -> str:
        text = super().panel_text(frame)
        task = self.task
        if task.active:
            elapsed = frame.t - task.onset
            left = task.pace_s - elapsed
            text += " - together now" if left <= 0 else f" - reach in {left:.0f} s"
        return text
