"""Press and hold: press a cushion under the mirrored forefoot into the marked band and
hold it there (a functional mirror task; logic in :class:`vrgmi.mirror.floor.PressHoldTask`).
The cushion is placed and drawn like the pedal of :mod:`vrgmi.scenes.pedal_press`; a gauge
beside it shows the press and the band to keep it in."""
from __future__ import annotations

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.mirror.floor import PressHoldTask, press_bands
from vrgmi.mirror.lower import PEDAL_TOLERANCE_M
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.mirror_common import TEAL, MirrorTaskScene
from vrgmi.scenes.objects_common import OBJECT_TRIAL_FIELDS, box, place
from vrgmi.scenes.pedal_press import PedalPress
from vrgmi.scenes.schema import Param

#: the gauge: a post this high (m) beside the cushion; its top is GAUGE_MAX_DEG of press
GAUGE_HEIGHT_M = 0.30
GAUGE_MAX_DEG = 40.0
GAUGE_GAP_M = 0.05


class PressHold(PedalPress):
    """A cushion lies under the missing foot put forward; the patient puts the mirrored
    forefoot on it, presses the toes down until the gauge's marker is in the teal band,
    and holds it there: graded, sustained control rather than a press."""

    name = "press_hold"
    description = "press a cushion under the mirrored foot into the marked band and hold it"
    params = (
        Param("band_deg", "float", 8.0, "width of the band to hold the press in", 3.0, 16.0,
              unit="deg"),
        Param("hold_s", "float", 2.0, "seconds to hold inside the band", 0.5, 8.0, unit="s"),
        Param("time_limit_s", "float", 15.0, "seconds allowed per press", 4.0, 60.0,
              unit="s"),
        Param("trials", "int", 6, "presses in this scene", 1, 50),
        Param("tolerance_m", "float", PEDAL_TOLERANCE_M, "how far outside the cushion's "
              "outline the ball of the foot still counts as on it", 0.0, 0.1, unit="m"),
    )
    trial_fields = {**PedalPress.trial_fields, **OBJECT_TRIAL_FIELDS,
                    "band_deg": "the band of toes-down press to hold (deg)",
                    "in_band_s": "seconds inside the band", "pressing_s": "seconds pressing",
                    "overshoots": "times the press went above the band"}
    instruction = N_("Press the cushion into the band and hold it")
    STATE_TEXT = {"away": N_("Put your mirrored foot on the cushion"),
                  "on": N_("Press down with your toes until the marker is in the band")}

    def make_task(self, ctx: SceneContext, rate_hz: float) -> PressHoldTask:
        d = self.difficulty
        return PressHoldTask(press_bands(self.rng, d["band_deg"]), d["hold_s"],
                             d["time_limit_s"], d["trials"], rate_hz=rate_hz)

    def configure(self) -> None:
        MirrorTaskScene.configure(self)
        d, task = self.difficulty, self.task
        task.hold.hold_s = d["hold_s"]
        if task.plate is not None:
            task.plate.tolerance_m = float(d["tolerance_m"])

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.gauge = ctx.root.attach_new_node("gauge")
        box(self.gauge, ctx.base, "gauge-post", (0.04, 0.025, GAUGE_HEIGHT_M), "#5b6770")
        self.band = box(self.gauge, ctx.base, "gauge-band", (0.07, 0.035, 1.0), TEAL, 0.8)
        self.marker = box(self.gauge, ctx.base, "gauge-marker", (0.10, 0.045, 0.012),
                          "#f2efe6")
        self.gauge.hide()

    def _place(self) -> None:
        super()._place()
        plate = self.task.plate
        side = 1.0 if self.ctx.core.amputated == 1 else -1.0
        right = (plate.forward[1], -plate.forward[0], 0.0)
        spot = (plate.hinge + 0.5 * plate.length_m * plate.forward
                + side * (0.5 * plate.width_m + GAUGE_GAP_M) * np.array(right))
        place(self.gauge, spot)
        self.gauge.set_h(self.pedal.get_h())
        self.gauge.show()

    def draw(self, frame: SceneFrame) -> None:
        super().draw(frame)
        task = self.task
        if task.plate is None:
            return
        scale = GAUGE_HEIGHT_M / GAUGE_MAX_DEG
        lo, hi = task.band
        if task.active and hi > 0.0:
            self.band.set_z(lo * scale)
            self.band.set_sz((hi - lo) * scale)
            self.band.show()
        else:
            self.band.hide()
        d = task.depression if task.on_pedal and task.depression == task.depression else 0.0
        self.marker.set_z(min(max(d, 0.0), GAUGE_MAX_DEG) * scale)
        self.band.set_alpha_scale(1.0 if task.in_band else 0.55)

    def task_line(self, frame: SceneFrame) -> str:
        hold = self.task.hold
        if self.task.in_band:
            return _("Hold it in the band... {held:.1f} of {total:.1f} s").format(
                held=hold.held_s(frame.t), total=hold.hold_s)
        return super().task_line(frame)
