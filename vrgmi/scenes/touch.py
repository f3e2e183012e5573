"""Touch the phantom: visuotactile stimulation with a tracked brush (docs/embodiment.md).

The therapist strokes the patient's intact or residual limb with a tracked brush (the
controller on the amputated side, or a tracker with the role ``handheld_object``:
``embodiment.touch_brush``); the headset shows a brush touching the corresponding place on
the virtual limb (:class:`vrgmi.body.touch.BrushMap`: mirrored from the intact limb, mapped
along the residual limb to the phantom), synchronously or ``delay_s`` later (the classic
asynchronous control condition), with an optional haptic pulse on the patient's controller
when the drawn brush touches. Synchronous means drawn in the frame whose pose located the
brush (no frame added); a delay is met to within one frame (:class:`DelayLine`).

Calibration, one step: the therapist holds the brush tip on the patient's intact wrist
(ankle) and pulls the brush controller's trigger (or sets ``calibrate`` from the companion);
the tip's offset in the brush's frame is kept (a ``param_changed`` event). Every stroke (the
real brush touching one limb, start to end) is a ``stroke`` event: its times, surface,
segment and places (real and drawn), the delay and whether a pulse was sent.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.body.touch import BrushMap, DelayLine, tip_offset, tip_position
from vrgmi.i18n import N_
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param
from vrgmi.spatial import quat_rotate
from vrgmi.tracking.frame import SIDES, TRACKER_INDEX

#: the haptic pulse sent when the drawn brush starts touching (s)
PULSE_S = 0.08
#: the delay line holds this many seconds of brush places (the longest delay allowed + 1)
HISTORY_S = 3.0
#: the brush's look: handle length and radius, tuft radius (m)
HANDLE_M, HANDLE_R_M, TUFT_R_M = 0.16, 0.008, 0.014


class TouchPhantom(Scene):
    """Strokes on the body shown on the virtual limb, synchronous or delayed."""

    name = "touch_phantom"
    description = "touch the phantom: a tracked brush shown on the virtual limb"
    phase = "mirror"
    params = (
        Param("delay_s", "float", 0.0, "drawn brush delay (s); unset: embodiment.touch_delay_s",
              lo=0.0, hi=2.0),
        Param("haptic", "bool", False, "haptic pulse on the patient's controller; unset: "
              "embodiment.touch_haptic"),
        Param("calibrate", "bool", False, "calibrate now: the brush tip is on the intact "
              "wrist / ankle"),
    )
    emits = ("stroke", "param_changed")
    instructions = N_("Relax and watch your virtual limb. Your therapist will touch you "
                      "with a brush, and you will see the brush on the virtual limb.")

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self._given = set(difficulty)
        self.delay_s = 0.0
        self.haptic = False
        self.offset = np.zeros(3)
        self.calibrated = False
        self.strokes: list[dict[str, Any]] = []
        self.shown: dict | None = None          # the place drawn this frame (None: hidden)
        self.drawn_at = np.zeros(3)             # where the brush is drawn this frame
        self.message = "touch: waiting for the brush"
        self._map: BrushMap | None = None
        self._line: DelayLine | None = None
        self._brush = "auto"
        self._contact_m = 0.06
        self._amplitude = 0.5
        self._tip = np.zeros(3)
        self._real: dict[str, Any] | None = None        # the real stroke going on
        self._pending: list[dict[str, Any]] = []         # real strokes not yet drawn out
        self._drawn_touch = False
        self._node = None

    def setup(self, ctx: SceneContext) -> None:
        """The brush map for this patient's limbs, the delay line, the drawn brush."""
        super().setup(ctx)
        core = ctx.core
        e = ctx.settings.embodiment if ctx.settings is not None else None
        if e is not None:
            self._brush, self._contact_m, self._amplitude = (e.touch_brush, e.touch_contact_m,
                                                             e.touch_haptic_amplitude)
        self.delay_s = float(self.difficulty["delay_s"] if "delay_s" in self._given or e is None
                             else e.touch_delay_s)
        self.haptic = bool(self.difficulty["haptic"] if "haptic" in self._given or e is None
                           else e.touch_haptic)
        layout = core.layout
        self._map = BrushMap(core.limb, core.joint_names, layout.level.stump_segment,
                             layout.residual_fraction, self._contact_m)
        rate = ctx.settings.display.refresh_hz if ctx.settings is not None else 90.0
        self._line = DelayLine(int(HISTORY_S * max(rate, 144.0)) + 2)
        if ctx.root is not None and ctx.base is not None:
            self._node = _build_brush(ctx.root, ctx.base)

    def set_param(self, name: str, value: Any, by: str = "therapist") -> None:
        """As :meth:`Scene.set_param`; ``delay_s`` and ``haptic`` apply at once."""
        super().set_param(name, value, by)
        self._given.add(name)
        if name == "delay_s":
            self.delay_s = float(self.difficulty["delay_s"])
        elif name == "haptic":
            self.haptic = bool(self.difficulty["haptic"])

    # -- per frame ------------------------------------------------------------------------
    def _brush_pose(self, frame: SceneFrame) -> np.ndarray | None:
        tracking, core = frame.tracking, self.ctx.core
        k = TRACKER_INDEX["handheld_object"]
        if self._brush in ("auto", "handheld_object") and tracking.tracker_valid[k]:
            return tracking.tracker[k]
        side = core.amputated
        if self._brush in ("auto", "controller") and tracking.grip_valid[side]:
            return tracking.grip[side]
        return None

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Locate the brush on the limbs, draw the (delayed) place, record strokes."""
        core, t = self.ctx.core, frame.t
        brush = self._brush_pose(frame)
        self._calibration(frame, brush)
        place = None
        if brush is not None:
            tip = tip_position(brush, self.offset, self._tip)
            place = self._map.locate(tip, core.intact.positions, core.phantom.positions,
                                     core.torso.pose)
        self._real_stroke(t, place)
        self._line.push(t, place)
        shown = self.shown = self._line.at(t, self.delay_s)
        if shown is not None:
            self._map.draw_point(shown, core.phantom.positions, core.torso.pose, self.drawn_at)
        self._drawn_stroke(t, shown)
        self._draw(shown, core)

    def _calibration(self, frame: SceneFrame, brush: np.ndarray | None) -> None:
        side = SIDES[self.ctx.core.amputated]
        pulled = any(e.action == side and e.device == f"controller_{side}"
                     for e in frame.inputs)
        if not (pulled or self.difficulty["calibrate"]):
            return
        if self.difficulty["calibrate"]:
            self.difficulty.set("calibrate", False)
        if brush is None:
            self.message = "touch: calibration needs the brush tracked"
            return
        core = self.ctx.core
        landmark = core.intact.positions[self._map.chain[2]]     # intact wrist / ankle
        old = [round(float(v), 4) for v in self.offset] if self.calibrated else None
        self.offset = tip_offset(brush, landmark)
        self.calibrated = True
        new = [round(float(v), 4) for v in self.offset]
        self.emit("param_changed", {"name": "touch.brush_tip", "old": old, "new": new,
                                    "by": "therapist"}, frame.t)
        self.message = (f"touch: brush calibrated (tip {100 * np.linalg.norm(self.offset):.1f} "
                        "cm from the tracked point)")

    def _real_stroke(self, t: float, place: dict | None) -> None:
        touching = place is not None and place["touching"]
        stroke = self._real
        if touching and stroke is None:
            self._real = {"t_start": round(t, 4), "surface": place["surface"],
                          "segment": place["segment"], "u_start": round(place["u"], 4),
                          "tip_start": [round(float(v), 4) for v in self._tip],
                          "path_m": 0.0, "_last": self._tip.copy()}
        elif touching and stroke is not None:
            stroke["path_m"] += float(np.linalg.norm(self._tip - stroke["_last"]))
            stroke["_last"] = self._tip.copy()
            stroke["u_end"] = round(place["u"], 4)
        elif stroke is not None:
            stroke["t_end"] = round(t, 4)
            stroke.setdefault("u_end", stroke["u_start"])
            self._pending.append(stroke)
            self._real = None

    def _drawn_stroke(self, t: float, shown: dict | None) -> None:
        touching = shown is not None and shown["touching"]
        if touching and not self._drawn_touch:
            pulsed = bool(self.haptic and self.ctx.core.source.haptic_pulse(
                self.ctx.core.intact_side, PULSE_S, self._amplitude))
            target = self._real if not self._pending else self._pending[0]
            if target is not None:
                target.update(drawn_start=round(t, 4), haptic=pulsed,
                              drawn_u=round(self._map.phantom_u(shown), 4),
                              drawn_at=[round(float(v), 4) for v in self.drawn_at])
        elif not touching and self._drawn_touch and self._pending:
            self._record(self._pending.pop(0), t)
        self._drawn_touch = touching

    def _record(self, stroke: dict[str, Any], t: float) -> None:
        stroke.pop("_last", None)
        stroke.update(index=len(self.strokes), drawn_end=round(t, 4), delay_s=self.delay_s,
                      calibrated=self.calibrated,
                      path_cm=round(100.0 * stroke.pop("path_m"), 2))
        stroke.setdefault("haptic", False)
        self.strokes.append(stroke)
        self.emit("stroke", stroke, t)
        self.message = (f"touch: {len(self.strokes)} strokes ({stroke['surface']} "
                        f"{stroke['segment']}, delay {self.delay_s:g} s)")

    def _draw(self, shown: dict | None, core: Any) -> None:
        node = self._node
        if node is None:
            return
        if shown is None:
            node.hide()
            return
        off = np.array(shown["offset"], dtype=np.float64)
        if shown["surface"] == "intact":
            off[0] = -off[0]
        out = quat_rotate(core.torso.pose[3:], off)
        if np.linalg.norm(out) < 1e-4:
            out = np.array([0.0, 0.0, 1.0])
        at = self.drawn_at
        node.set_pos(float(at[0]), float(at[1]), float(at[2]))
        node.look_at(float(at[0] + out[0]), float(at[1] + out[1]), float(at[2] + out[2]))
        node.show()

    def teardown(self) -> None:
        """Record the strokes still in flight (their drawn part cut short), then end."""
        if self.ctx is not None:
            if self._real is not None:
                self._real["t_end"] = round(self._t, 4)
                self._real.setdefault("u_end", self._real["u_start"])
                self._pending.append(self._real)
                self._real = None
            while self._pending:
                self._record(self._pending.pop(0), self._t)
        super().teardown()

    def summary(self) -> dict[str, Any]:
        """Strokes recorded, the delay and whether the brush was calibrated."""
        return {"strokes": len(self.strokes), "delay_s": self.delay_s,
                "calibrated": self.calibrated, "haptic": self.haptic}


def _build_brush(root: Any, base: Any) -> Any:
    """The drawn brush: a pale round tuft at the node's origin (the tip) and a wooden handle
    running along +Y, away from the limb; hidden until it is near the limb."""
    from vrgmi.scenes.objects_common import ball, cylinder
    node = root.attach_new_node("brush")
    ball(node, base, "brush-tuft", TUFT_R_M, "#efe6d2")
    handle = cylinder(node, base, "brush-handle", HANDLE_R_M, HANDLE_M, "#8a5a2b")
    handle.set_p(-90.0)                       # the cylinder's +Z along the node's +Y
    handle.set_y(0.6 * TUFT_R_M)
    node.hide()
    return node
