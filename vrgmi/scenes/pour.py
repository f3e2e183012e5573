"""Pour: lift the jug with the mirrored hand, hold it over the glass and tip it to pour
(a functional mirror task; logic in :class:`vrgmi.mirror.objects.PourTask`)."""
from __future__ import annotations

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.mirror.objects import CUP_HEIGHT_M, GLASS_HEIGHT_M, GLASS_RADIUS_M, PourTask
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.objects_common import (GLASS_HEX, JUG_HEX, LIQUID_HEX, OBJECT_TRIAL_FIELDS,
                                         ObjectTaskScene, box, cup, cylinder, distance_param,
                                         grasp_param, place, place_cup)
from vrgmi.scenes.schema import Param


class Pour(ObjectTaskScene):
    """A jug and a glass stand on the table on the missing side; the patient lifts the jug
    with the mirrored hand, holds it over the glass and tips it: the glass fills while the
    jug pours over it."""

    name = "pour"
    description = "lift a jug with the mirrored hand and pour into the glass"
    params = (
        distance_param(),
        grasp_param("jug"),
        Param("pour_deg", "float", 50.0, "how far the jug must tip to pour", 25.0, 100.0,
              unit="deg"),
        Param("pour_s", "float", 1.5, "seconds of pouring that fill the glass", 0.3, 6.0,
              unit="s"),
        Param("over_radius_m", "float", 0.07, "how near the glass's middle the jug must be",
              0.03, 0.15, unit="m"),
        Param("time_limit_s", "float", 25.0, "seconds allowed per glass", 5.0, 120.0,
              unit="s"),
        Param("trials", "int", 6, "glasses in this scene", 1, 50),
    )
    trial_fields = {**OBJECT_TRIAL_FIELDS,
                    "grasp_time_s": "time the jug was taken (s), null if never",
                    "poured_s": "seconds poured into the glass",
                    "spilled_s": "seconds poured beside the glass",
                    "peak_tilt_deg": "largest tilt of the jug (deg)",
                    "pour_deg": "tilt that pours (deg)", "pour_s": "pouring that fills (s)"}
    instruction = N_("Lift the jug and pour into the glass")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> PourTask:
        d = self.difficulty
        return PourTask(self.spot_maker(ctx), d["grasp_radius_m"], d["pour_deg"], d["pour_s"],
                        d["over_radius_m"], time_limit_s=d["time_limit_s"],
                        trials=d["trials"], rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.grasp_radius_m = d["grasp_radius_m"]
        task.pour_deg, task.pour_s = d["pour_deg"], d["pour_s"]
        task.over_radius_m = d["over_radius_m"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        root = ctx.root
        self.jug = cup(root, ctx.base, "jug", JUG_HEX)
        self.glass = root.attach_new_node("glass")
        self.fill = cylinder(self.glass, ctx.base, "glass-fill", 0.9 * GLASS_RADIUS_M, 1.0,
                             LIQUID_HEX)
        cylinder(self.glass, ctx.base, "glass-wall", GLASS_RADIUS_M, GLASS_HEIGHT_M,
                 GLASS_HEX, 0.45)
        self.stream = box(root, ctx.base, "pour-stream", (0.012, 0.012, 1.0), LIQUID_HEX)
        for node in (self.jug, self.glass, self.stream):
            node.hide()
        self._base = np.zeros(3)

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active:
            for node in (self.jug, self.glass, self.stream):
                node.hide()
            return
        item, glass = task.item, task.spots[1]
        place_cup(self.jug, item, self._base)
        place(self.glass, glass)
        level = min(task.poured_s / task.pour_s, 1.0) * 0.85 * GLASS_HEIGHT_M
        self.fill.set_sz(max(level, 1e-4))
        if task.pouring and task.over_glass:
            top = item.centre[2] - 0.5 * CUP_HEIGHT_M
            fall = max(top - (glass[2] + level), 0.01)
            self.stream.set_pos(float(glass[0]), float(glass[1]), float(top - fall))
            self.stream.set_sz(fall)
            self.stream.show()
        else:
            self.stream.hide()
        self.jug.show()
        self.glass.show()

    def task_line(self, frame: SceneFrame) -> str:
        task = self.task
        return (_("Reach for the jug with your mirrored hand") if not task.item.held
                else _("Tip the jug over the glass") if not task.pouring
                else _("Pouring...") if task.over_glass else _("Over the glass, please"))
