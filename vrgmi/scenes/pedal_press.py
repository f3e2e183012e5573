"""Pedal press: press a pedal under the mirrored foot (toes down) and hold it (mirror therapy)."""
from __future__ import annotations

from typing import Any

import numpy as np
from panda3d.core import TransparencyAttrib

from vrgmi.i18n import N_, _
from vrgmi.mirror.lower import (HEEL_FOOT_FRACTION, PEDAL_FROM_FOOT, PEDAL_TOLERANCE_M,
                                PedalTask, foot_angles, pedal_plate)
from vrgmi.scenes.ankle_circles import ANKLE
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.foot_targets import BALL
from vrgmi.scenes.mirror_common import (AMBER, COMMON_TRIAL_FIELDS, FLOOR_Z_M, TEAL,
                                        MirrorTaskScene, box_node, disc_node, display_rgba,
                                        seated_legs)
from vrgmi.scenes.schema import Param

#: plate thickness (m); the plate turns about the heel's point on the floor, inclined
#: toes-up (vrgmi.mirror.lower.PEDAL_REST_DEG) until pressed, over a low dark base
PLATE_THICKNESS_M = 0.015
#: the glow around the plate: this much wider than the plate (m)
HALO_MARGIN_M = 0.025


class PedalPress(MirrorTaskScene):
    """A pedal on the floor under the missing foot put forward (the knee straighter than
    at rest), where the patient sees it past the knees, inclined toes-up like a car's. The patient puts the
    mirrored foot on it (the plate turns from amber to teal), points the intact foot's
    toes down and watches the mirrored foot press the pedal and hold it down."""

    name = "pedal_press"
    description = "press a pedal under the mirrored foot and hold it"
    limbs = ("leg",)
    params = (
        Param("press_deg", "float", 15.0, "how far the toes push the pedal down from its "
              "incline", 5.0, 40.0, unit="deg"),
        Param("hold_s", "float", 1.0, "seconds to hold the pedal down", 0.0, 5.0, unit="s"),
        Param("time_limit_s", "float", 8.0, "seconds allowed per press", 2.0, 60.0,
              unit="s"),
        Param("trials", "int", 10, "presses in this scene", 1, 100),
        Param("tolerance_m", "float", PEDAL_TOLERANCE_M, "how far outside the pedal's "
              "outline the ball of the foot still counts as on it", 0.0, 0.1, unit="m"),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "on_pedal_time_s": "time the foot was first on the pedal (s), null if "
                                       "never",
                    "press_time_s": "time the pedal first went down (s), null if never",
                    "peak_plantarflexion_deg": "largest toes-down angle (deg)",
                    "held_s": "seconds held at the end",
                    "press_deg": "press threshold: toes down from the incline (deg)",
                    "pedal_rest_deg": "the pedal's toes-up incline at rest (deg)",
                    "hold_s": "hold required (s)"}
    instruction = N_("Press the pedal with your mirrored foot and hold it")
    #: panel line per foot state while a trial runs
    STATE_TEXT = {"away": N_("Put your mirrored foot on the pedal"),
                  "on": N_("Foot on the pedal - now press it down with your toes")}

    def make_task(self, ctx: SceneContext, rate_hz: float) -> PedalTask:
        d = self.difficulty
        return PedalTask(d["press_deg"], d["hold_s"], d["time_limit_s"], d["trials"],
                         rest_s=1.0, rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.press_deg = d["press_deg"]
        task.hold.hold_s = d["hold_s"]
        if task.plate is not None:
            task.plate.tolerance_m = float(d["tolerance_m"])

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.pedal = ctx.root.attach_new_node("pedal")
        self.pedal.set_light_off(1)
        self.pedal.set_shader_off(1)
        self.base = self.pedal.attach_new_node(box_node("pedal-base"))
        self.base.set_color(display_rgba(ctx.base, "#5b6770", 1.0), 1)
        self.pivot = self.pedal.attach_new_node("pedal-hinge")
        self.plate = self.pivot.attach_new_node(disc_node("pedal-plate", segments=40,
                                                          thickness=1.0))
        self.halo = self.pedal.attach_new_node(disc_node("pedal-halo", segments=40,
                                                         thickness=1.0))
        self.halo.set_transparency(TransparencyAttrib.M_alpha)
        self.halo.set_depth_write(False)
        self.halo.set_bin("transparent", 10)
        self.pedal.hide()
        self._state = ""

    def _place(self) -> None:
        """Put the pedal under the forward foot and size it to the foot."""
        core, task = self.ctx.core, self.task
        L = core.lengths
        legs = seated_legs(core, np.zeros((4, 2, 3)))
        plate = pedal_plate(core.torso.hip(core.amputated), core.torso.pose, L.thigh,
                            L.shank, L.foot, L.ankle_height, float(self.difficulty["tolerance_m"]),
                            core.frame.head[:3] if core.frame.head_valid else None, legs)
        task.place(plate)
        length, width = plate.length_m, plate.width_m
        h = plate.hinge
        f = plate.forward
        self.pedal.set_pos(float(h[0]), float(h[1]), 0.0)
        self.pedal.set_h(float(np.degrees(np.arctan2(-f[0], f[1]))))
        # the plate along the sole's line from the heel, a low base under it, the glow
        heel_gap = (HEEL_FOOT_FRACTION + PEDAL_FROM_FOOT) * core.lengths.foot
        self.base.set_pos(0.0, 0.5 * length, 0.0)
        self.base.set_scale(0.45 * width, 0.45 * length, 0.01)
        self.pivot.set_pos(0.0, -heel_gap, 0.0)
        self.plate.set_pos(0.0, heel_gap + 0.5 * length, -PLATE_THICKNESS_M)  # top = sole
        self.plate.set_scale(0.5 * width, 0.5 * length, PLATE_THICKNESS_M)
        self.halo.set_pos(0.0, 0.5 * length, FLOOR_Z_M)
        self.halo.set_scale(0.5 * width + HALO_MARGIN_M, 0.5 * length + HALO_MARGIN_M, 0.002)
        self.pedal.show()

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        if frame.phantom_visibility > 0.0:
            _, up = foot_angles(frame.phantom.rotations[ANKLE], self.ctx.core.torso.pose)
            down = -up
        else:
            down = float("nan")
        return self.task.update(frame.t, self.effector(frame, BALL), down)

    @property
    def foot_state(self) -> str:
        """``away`` (the foot is not on the pedal), ``on`` or ``pressed``."""
        task = self.task
        return "pressed" if task.pressed else "on" if task.on_pedal else "away"

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if task.plate is None:
            if not self.ctx.core.torso.initialized:
                return
            self._place()
        state = self.foot_state
        # the plate goes down with the toes (to flat) while the foot is on it, else rests
        down = task.depression
        down = min(max(down, 0.0), task.rest_deg) if state != "away" and down == down else 0.0
        self.pivot.set_p(task.rest_deg - down)
        if state != self._state:
            self._state = state
            colour = AMBER if state == "away" else TEAL
            self.plate.set_color(display_rgba(self.ctx.base, colour, 1.0), 1)
            self.halo.set_color(display_rgba(self.ctx.base, colour, 1.0), 1)
        # a slow breathing glow invites the foot; a steady brighter one while on it
        glow = (0.25 + 0.12 * np.sin(2.0 * np.pi * 0.8 * frame.t) if state == "away"
                else 0.45 if state == "on" else 0.6)
        self.halo.set_alpha_scale(float(glow))

    def task_line(self, frame: SceneFrame) -> str:
        state, hold = self.foot_state, self.task.hold
        return (_("Hold it... {held:.1f} of {total:.1f} s").format(held=hold.held_s(frame.t),
                                                                   total=hold.hold_s)
                if state == "pressed" else _(self.STATE_TEXT[state]))
