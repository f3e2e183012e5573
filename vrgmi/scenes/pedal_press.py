"""Pedal press: press a pedal under the mirrored foot (toes down) and hold it (mirror therapy)."""
from __future__ import annotations

from typing import Any

import numpy as np
from panda3d.core import TransparencyAttrib

from vrgmi.mirror.lower import PedalTask, foot_angles, foot_home
from vrgmi.mirror.trial import yaw_axes
from vrgmi.scenes.ankle_circles import ANKLE
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.foot_targets import BALL
from vrgmi.scenes.mirror_common import (AMBER, COMMON_TRIAL_FIELDS, TEAL, MirrorTaskScene,
                                        disc_node, display_rgba)
from vrgmi.scenes.schema import Param

#: pedal plate size (m): long, wide, thick; its hinge is under the heel
PEDAL_SIZE = (0.24, 0.11, 0.02)


class PedalPress(MirrorTaskScene):
    """A pedal lies under the missing foot; the patient points the intact foot's toes down
    and watches the mirrored foot press the pedal and hold it down."""

    name = "pedal_press"
    description = "press a pedal under the mirrored foot and hold it"
    limbs = ("leg",)
    params = (
        Param("press_deg", "float", 15.0, "toes-down angle that presses the pedal", 5.0,
              40.0, unit="deg"),
        Param("hold_s", "float", 1.0, "seconds to hold the pedal down", 0.0, 5.0, unit="s"),
        Param("time_limit_s", "float", 8.0, "seconds allowed per press", 2.0, 60.0,
              unit="s"),
        Param("trials", "int", 10, "presses in this scene", 1, 100),
    )
    trial_fields = {**COMMON_TRIAL_FIELDS,
                    "press_time_s": "time the pedal first went down (s), null if never",
                    "peak_plantarflexion_deg": "largest toes-down angle (deg)",
                    "held_s": "seconds held at the end",
                    "press_deg": "press threshold (deg)", "hold_s": "hold required (s)"}
    instruction = "Press the pedal with your mirrored foot and hold it"

    def make_task(self, ctx: SceneContext, rate_hz: float) -> PedalTask:
        d = self.difficulty
        return PedalTask(d["press_deg"], d["hold_s"], d["time_limit_s"], d["trials"],
                         rest_s=1.0, rate_hz=rate_hz)

    def configure(self) -> None:
        d, task = self.difficulty, self.task
        task.press_deg = d["press_deg"]
        task.hold.hold_s = d["hold_s"]
        task.time_limit_s = d["time_limit_s"]
        task.trials = max(d["trials"], len(task.results))

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.hinge = ctx.root.attach_new_node("pedal-hinge")
        self.plate = self.hinge.attach_new_node(disc_node("pedal", segments=32,
                                                          thickness=1.0))
        length, width, thick = PEDAL_SIZE
        # an oval plate from the hinge forward
        self.plate.set_scale(width / 2.0, length / 2.0, thick)
        self.plate.set_pos(0.0, length / 2.0, 0.0)
        self.hinge.set_light_off(1)
        self.hinge.set_shader_off(1)
        self.hinge.set_transparency(TransparencyAttrib.M_alpha)
        self.hinge.hide()
        self._placed = False

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        if frame.phantom_visibility > 0.0:
            _, up = foot_angles(frame.phantom.rotations[ANKLE], self.ctx.core.torso.pose)
            down = -up
        else:
            down = float("nan")
        return self.task.update(frame.t, self.effector(frame, BALL), down)

    def draw(self, frame: SceneFrame) -> None:
        core, task = self.ctx.core, self.task
        if not self._placed and core.torso.initialized:
            L, side = core.lengths, core.amputated
            right, fwd = yaw_axes(core.torso.pose)
            ball = foot_home(core.torso.hip(side), core.torso.pose, L.thigh, L.foot)
            hinge = ball - 0.72 * L.foot * fwd + np.array([0.0, 0.0, 0.03])
            self.hinge.set_pos(*map(float, hinge))
            self.hinge.set_h(float(np.degrees(np.arctan2(-fwd[0], fwd[1]))))
            self._placed = True
            self.hinge.show()
        p = task.plantarflexion
        tilt = min(max(p if p == p else 0.0, 0.0), task.press_deg)
        self.hinge.set_p(-tilt)
        self.plate.set_color(display_rgba(self.ctx.base, TEAL if task.pressed else AMBER,
                                          0.85), 1)

    def panel_text(self, frame: SceneFrame) -> str:
        task = self.task
        if task.active and task.pressed:
            return (f"Hold it... {task.hold.held_s(frame.t):.1f} of {task.hold.hold_s:.1f} s\n"
                    f"Trial {task.index + 1} of {task.trials}")
        return super().panel_text(frame)
