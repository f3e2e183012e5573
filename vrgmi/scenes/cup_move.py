"""Move a cup: pick up the cup with the mirrored hand and set it down on the glowing spot
(a functional mirror task; logic in :class:`vrgmi.mirror.objects.CupMoveTask`)."""
from __future__ import annotations

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.mirror.objects import CupMoveTask
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import TargetMarker
from vrgmi.scenes.objects_common import (CUP_HEX, OBJECT_TRIAL_FIELDS, ObjectTaskScene, cup,
                                         distance_param, grasp_param, place_cup)
from vrgmi.scenes.schema import Param


class CupMove(ObjectTaskScene):
    """A cup stands on the table on the missing side; the patient reaches with the intact
    hand, watches the mirrored hand take the cup (it follows the hand once held) and set
    it down upright on the glowing spot."""

    name = "cup_move"
    description = "pick up a cup with the mirrored hand and put it on the glowing spot"
    params = (
        distance_param(),
        grasp_param("cup"),
        Param("place_radius_m", "float", 0.06, "size of the spot the cup goes on (radius)",
              0.03, 0.15, unit="m"),
        Param("dwell_s", "float", 0.3, "seconds to hold still to take or set down the cup",
              0.0, 2.0, unit="s"),
        Param("time_limit_s", "float", 20.0, "seconds allowed per move", 5.0, 120.0,
              unit="s"),
        Param("trials", "int", 6, "moves in this scene", 1, 50),
    )
    trial_fields = {**OBJECT_TRIAL_FIELDS,
                    "grasp_time_s": "time the cup was taken (s), null if never",
                    "placement_error_m": "cup centre to spot centre when the trial ended (m)",
                    "peak_tilt_deg": "largest tilt of the cup while carried (deg)",
                    "place_radius_m": "spot radius (m)"}
    instruction = N_("Pick up the cup and put it on the glowing spot")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> CupMoveTask:
        d = self.difficulty
        return CupMoveTask(self.spot_maker(ctx), d["grasp_radius_m"], d["place_radius_m"],
                           d["dwell_s"], d["time_limit_s"], d["trials"], rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.grasp_radius_m = d["grasp_radius_m"]
        task.place_radius_m = d["place_radius_m"]
        task.dwell.hold_s = d["dwell_s"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.cup = cup(ctx.root, ctx.base, "cup", CUP_HEX)
        # the spot glows like every target (teal, a slow breathing halo)
        self.spot = TargetMarker(ctx.root, ctx.base, self.task.place_radius_m, floor=True,
                                 name="cup-spot")
        self.cup.hide()
        self.spot.set_state("hidden")
        self._base = np.zeros(3)

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active:
            self.cup.hide()
            self.spot.set_state("hidden")
            return
        place_cup(self.cup, task.item, self._base)
        if self.spot.radius != task.place_radius_m:
            self.spot.set_radius(task.place_radius_m)
        self.spot.place(task.spots[1])
        self.spot.set_state("current")
        self.spot.animate(frame.t)
        self.cup.show()

    def task_line(self, frame: SceneFrame) -> str:
        return (_("Now set it down on the glowing spot") if self.task.item.held
                else _("Reach for the cup with your mirrored hand"))
