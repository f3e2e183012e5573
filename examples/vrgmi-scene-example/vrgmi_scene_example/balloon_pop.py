"""Balloon pop: balloons appear within reach on the missing limb's side; the patient moves
the intact hand so that the mirrored hand touches them. Each balloon is one trial.

The whole contract with vrgmi is :class:`vrgmi.scenes.base.Scene`'s public members: the
class attributes below; ``setup(ctx)`` (call ``super().setup`` first), ``update(frame, dt)``,
``summary()``, ``teardown()`` (optional; call ``super().teardown`` last); what the engine
gives: ``self.ctx`` (a :class:`~vrgmi.scenes.base.SceneContext`), each frame's
:class:`~vrgmi.scenes.base.SceneFrame`, ``self.difficulty[name]``; and what the scene gives
back: ``self.emit(kind, data)`` (at ``self.now``, the frame's display time) and
``self.finished``. Nothing else of vrgmi is touched.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vrgmi.scenes.base import EventData, Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param

if TYPE_CHECKING:
    from panda3d.core import NodePath


class BalloonPop(Scene):
    """Touch each balloon with the mirrored hand before it drifts away."""

    name = "balloon_pop"
    description = "pop balloons with the mirrored hand (example plug-in)"
    phase = "mirror"
    limbs = ("arm",)
    params = (
        Param("balloons", "int", 10, "balloons in one run", lo=1, hi=50),
        Param("radius_m", "float", 0.07, "balloon radius: bigger is easier", lo=0.03, hi=0.15,
              unit="m"),
        Param("time_limit_s", "float", 10.0, "seconds before a balloon drifts away", lo=2.0,
              hi=30.0, unit="s"),
    )
    emits = ("trial",)
    trial_fields = {"target": "balloon centre (x, y, z), engine space, m",
                    "popped": "true if the mirrored hand touched it in time",
                    "reach_s": "seconds from appearing to popped (None if missed)"}

    def setup(self, ctx: SceneContext) -> None:
        """Load the balloon model (the first balloon is placed at the first frame, once the
        torso is tracked)."""
        super().setup(ctx)
        self.rng = ctx.rng()                       # the block's seed: a seed replays a session
        self.index = 0
        self.popped = 0
        self.target = np.zeros(3)
        self.onset: float | None = None
        self.balloon: NodePath | None = None
        if ctx.base is not None and ctx.root is not None:
            self.balloon = ctx.base.loader.load_model("models/misc/sphere")
            self.balloon.reparent_to(ctx.root)
            self.balloon.set_color(0.92, 0.55, 0.45, 1.0)
            self.balloon.set_shader_off(1)
            self.balloon.hide()

    def _next_balloon(self, ctx: SceneContext) -> None:
        """A new target in front of the missing arm's shoulder (as tracked now), within reach."""
        core = ctx.core
        shoulder = core.torso.shoulder(core.amputated)
        reach = core.lengths.upper_arm + core.lengths.forearm
        # metres from the shoulder: sideways, forward (55-85 % of the reach), down
        offset = self.rng.uniform([-0.12, 0.55 * reach, -0.30], [0.12, 0.85 * reach, 0.0])
        self.target[:] = shoulder + offset
        if self.balloon is not None:
            self.balloon.set_pos(*self.target)
            self.balloon.set_scale(self.difficulty["radius_m"])
            self.balloon.show()

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Pop the balloon when the mirrored wrist is inside it; time out otherwise."""
        if self.finished or self.ctx is None:
            return
        if self.onset is None:                     # a new balloon, seen from this frame on
            self._next_balloon(self.ctx)
            self.onset = frame.t
        hand = frame.phantom.positions[2]          # the wrist of the mirrored arm
        age = frame.t - self.onset
        hit = frame.phantom_visibility > 0.5 and float(
            np.linalg.norm(hand - self.target)) <= self.difficulty["radius_m"]
        if hit or age >= self.difficulty["time_limit_s"]:
            self.emit("trial", {"index": self.index, "block": 0, "popped": bool(hit),
                                "target": [round(float(v), 4) for v in self.target],
                                "reach_s": round(age, 3) if hit else None})
            self.popped += int(hit)
            self.index += 1
            self.onset = None
            if self.index >= self.difficulty["balloons"]:
                self.finished = True
                if self.balloon is not None:
                    self.balloon.hide()

    def summary(self) -> EventData:
        """Balloons shown and popped."""
        return {"balloons": self.index, "popped": self.popped}
