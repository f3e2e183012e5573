"""Wipe the table: clean a stain off the table with a cloth under the mirrored hand (a
functional mirror task; logic in :class:`vrgmi.mirror.objects.WipeTask`)."""
from __future__ import annotations

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.mirror.objects import CONTACT_HEIGHT_M, WIPE_CELL_M, WipeTask, stain_cells
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.objects_common import (CLOTH_HEX, OBJECT_TRIAL_FIELDS, STAIN_HEX,
                                         ObjectTaskScene, box, distance_param, flat_disc,
                                         place)
from vrgmi.scenes.schema import Param

#: the cloth under the hand: width, depth, thickness (m)
CLOTH_M = (0.13, 0.10, 0.008)


class WipeTable(ObjectTaskScene):
    """A coffee stain lies on the table on the missing side; the mirrored hand holds a
    cloth and the stain fades where the cloth passes over it, down on the table."""

    name = "wipe_table"
    description = "wipe a stain off the table with the cloth under the mirrored hand"
    spot_count = 1
    hold_height_m = 0.04
    params = (
        distance_param(),
        Param("stain_radius_m", "float", 0.10, "stain size (radius)", 0.05, 0.14, unit="m"),
        Param("cloth_radius_m", "float", 0.05, "how wide the cloth cleans (radius)", 0.03,
              0.1, unit="m"),
        Param("clean_fraction", "float", 0.9, "share of the stain to clean", 0.5, 1.0),
        Param("time_limit_s", "float", 30.0, "seconds allowed per stain", 5.0, 120.0,
              unit="s"),
        Param("trials", "int", 4, "stains in this scene", 1, 50),
    )
    trial_fields = {**OBJECT_TRIAL_FIELDS,
                    "cleaned_fraction": "share of the stain cleaned",
                    "contact_s": "seconds the cloth was down on the table",
                    "stain_radius_m": "stain radius (m)"}
    instruction = N_("Wipe the stain away with the cloth")

    def edge_margin_m(self) -> float:
        """The whole stain lies on the table."""
        return self.difficulty["stain_radius_m"] + 0.01

    def make_task(self, ctx: SceneContext, rate_hz: float) -> WipeTask:
        d = self.difficulty
        return WipeTask(self.spot_maker(ctx), d["stain_radius_m"], d["cloth_radius_m"],
                        d["clean_fraction"], d["time_limit_s"], d["trials"], rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.cloth_radius_m, task.clean_fraction = d["cloth_radius_m"], d["clean_fraction"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.stain = ctx.root.attach_new_node("stain")
        cells = stain_cells(np.zeros(2), self.task.stain_radius_m)
        # blotches a little wider than a cell so the stain reads as one patch
        self.blots = []
        for k, (x, y) in enumerate(cells):
            blot = flat_disc(self.stain, ctx.base, f"blot{k}", 0.8 * WIPE_CELL_M,
                             STAIN_HEX, lift=0.002 + 0.0002 * (k % 3))
            # blotches of a few sizes, as a dried spill has
            blot.set_scale(0.8 * WIPE_CELL_M * (1.0 + 0.25 * ((7 * k) % 5) / 4.0))
            blot.set_x(float(x))
            blot.set_y(float(y))
            self.blots.append(blot)
        self.cloth = box(ctx.root, ctx.base, "cloth", CLOTH_M, CLOTH_HEX)
        self.stain.hide()
        self.cloth.hide()
        self._shown = np.ones(len(cells), dtype=bool)

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active:
            self.stain.hide()
            self.cloth.hide()
            return
        place(self.stain, task.spots[0])
        for k in np.flatnonzero(task.clean == self._shown):
            self.blots[k].hide() if task.clean[k] else self.blots[k].show()
            self._shown[k] = not task.clean[k]
        palm = task.palm
        if palm[0] == palm[0]:
            top = task.spots[0][2]
            z = top + 0.001 if task.in_contact else max(palm[2] - CONTACT_HEIGHT_M, top)
            self.cloth.set_pos(float(palm[0]), float(palm[1]), float(z))
            self.cloth.set_h(float(np.degrees(self.ctx.core.torso.yaw)))
            self.cloth.show()
        self.stain.show()

    def task_line(self, frame: SceneFrame) -> str:
        task = self.task
        return (_("Wipe the stain away - {clean:.0%} clean").format(clean=task.cleaned_fraction)
                if task.in_contact else _("Put your mirrored hand down on the stain"))
