"""Turn a key: take the key in the lock with the mirrored hand and turn it (a functional
mirror task; logic in :class:`vrgmi.mirror.objects.KeyTurnTask`)."""
from __future__ import annotations

import math

from vrgmi.i18n import N_, _
from vrgmi.mirror.objects import KEY_HEIGHT_M, KeyTurnTask
from vrgmi.mirror.trial import yaw_axes
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.objects_common import (BRASS_HEX, LOCK_HEX, OBJECT_TRIAL_FIELDS,
                                         ObjectTaskScene, box, cylinder, distance_param,
                                         grasp_param, place)
from vrgmi.scenes.schema import Param

#: the lock block: width, depth, height (m); the key's bow (radius) and blade length (a house
#: key: the bow stands out far enough that the fingers pinching it stop short of the lock)
LOCK_SIZE_M = (0.14, 0.06, KEY_HEIGHT_M + 0.07)
BOW_RADIUS_M = 0.022
BLADE_M = 0.06


class KeyTurn(ObjectTaskScene):
    """A lock stands on the table on the missing side with a key in it pointing at the
    patient; the patient pinches the key with the mirrored hand and turns it by turning
    the intact forearm, then holds it turned."""

    name = "key_turn"
    description = "take the key in the lock with the mirrored hand and turn it"
    spot_count = 1
    hold_height_m = KEY_HEIGHT_M
    footprint_m = (0.5 * LOCK_SIZE_M[0] + 0.02 + BLADE_M, LOCK_SIZE_M[2] + 0.02)
    params = (
        distance_param(),
        grasp_param("key"),
        Param("turn_deg", "float", 60.0, "how far to turn the key (either way)", 20.0, 110.0,
              unit="deg"),
        Param("hold_s", "float", 0.5, "seconds to hold the key turned", 0.0, 5.0, unit="s"),
        Param("time_limit_s", "float", 20.0, "seconds allowed per key", 5.0, 120.0, unit="s"),
        Param("trials", "int", 6, "keys in this scene", 1, 50),
    )
    trial_fields = {**OBJECT_TRIAL_FIELDS,
                    "grasp_time_s": "time the key was taken (s), null if never",
                    "peak_turn_deg": "largest turn of the key (deg)",
                    "held_s": "seconds held turned at the end", "turn_deg": "turn needed (deg)",
                    "hold_s": "hold required (s)"}
    instruction = N_("Take the key and turn it")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> KeyTurnTask:
        d = self.difficulty
        _, fwd = yaw_axes(ctx.core.torso.pose)
        return KeyTurnTask(self.spot_maker(ctx), fwd, d["grasp_radius_m"], d["turn_deg"],
                           d["hold_s"], time_limit_s=d["time_limit_s"], trials=d["trials"],
                           rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.grasp_radius_m, task.turn_deg = d["grasp_radius_m"], d["turn_deg"]
        task.hold.hold_s = d["hold_s"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.lock = ctx.root.attach_new_node("lock")
        body = box(self.lock, ctx.base, "lock-body", LOCK_SIZE_M, LOCK_HEX)
        body.set_y(0.5 * LOCK_SIZE_M[1])
        plate = cylinder(self.lock, ctx.base, "lock-plate", 0.03, 0.006, "#b8b2a8")
        plate.set_p(90.0)
        plate.set_pos(0.0, 0.0, KEY_HEIGHT_M)
        self.key = self.lock.attach_new_node("key")
        self.key.set_pos(0.0, 0.0, KEY_HEIGHT_M)
        blade = box(self.key, ctx.base, "key-blade", (0.008, BLADE_M, 0.012), BRASS_HEX)
        blade.set_pos(0.0, -0.5 * BLADE_M, -0.006)
        bow = cylinder(self.key, ctx.base, "key-bow", BOW_RADIUS_M, 0.006, BRASS_HEX)
        bow.set_hpr(0.0, 90.0, 0.0)
        bow.set_pos(0.0, -BLADE_M, 0.0)
        self.lock.hide()

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active:
            self.lock.hide()
            return
        # the lock faces the patient (torso forward); the key sits in its front face
        yaw = math.degrees(self.ctx.core.torso.yaw)
        place(self.lock, task.spots[0] + BLADE_M * task.axis)
        self.lock.set_h(yaw)
        self.key.set_r(task.turn if task.item.held else 0.0)
        if task.item.held:                       # a held key brightens a little
            self.key.set_color_scale(1.15, 1.15, 1.0, 1.0)
        else:
            self.key.clear_color_scale()
        self.lock.show()

    def task_line(self, frame: SceneFrame) -> str:
        task = self.task
        return (_("Reach for the key with your mirrored hand") if not task.item.held
                else _("Turn it... {turned:.0f} of {total:.0f} deg").format(
                    turned=abs(task.turn), total=task.turn_deg))
