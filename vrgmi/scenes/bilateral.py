"""Bilateral: both hands reach together for a pair of mirror-image targets (mirror therapy)."""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.body.mirror import mirror_points_kernel
from vrgmi.i18n import N_
from vrgmi.mirror.bilateral import BilateralTask, residual_point_index
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import COMMON_TRIAL_FIELDS, TargetTaskScene
from vrgmi.scenes.reach_targets import PALM, table_targets
from vrgmi.scenes.schema import Param


class Bilateral(TargetTaskScene):
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
    instruction = N_("Move both hands together to the two targets")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> BilateralTask:
        self._index = residual_point_index(ctx.core.level.stump_segment)
        self._pair = np.zeros((2, 3))
        self._mirrored = np.zeros((2, 3))
        d = self.difficulty
        return BilateralTask(table_targets(self, ctx, count=1), d["target_radius_m"],
                             d["dwell_s"], d["time_limit_s"], d["trials"], d["pace_s"],
                             rest_s=1.0, rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        self.task.pace_s = self.difficulty["pace_s"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.markers = self.build_markers(ctx, ["phantom"])
        self.intact_marker = self.build_markers(ctx, ["intact"])[0]

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
        super().draw(frame)
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
