"""Trace a path: follow a dotted path on the floor with the mirrored foot's toes, from its
start to its end (a functional mirror task; logic in :class:`vrgmi.mirror.floor.TracePathTask`)."""
from __future__ import annotations

from typing import Any

import numpy as np

from vrgmi.i18n import N_, _
from vrgmi.mirror.floor import TracePathTask, floor_path
from vrgmi.scenes.base import SceneContext, SceneFrame
from vrgmi.scenes.foot_targets import BALL, MIN_FORWARD_M
from vrgmi.scenes.mirror_common import (AMBER, FLOOR_Z_M, TEAL, MirrorTaskScene, display_rgba,
                                        resting_foot_view)
from vrgmi.scenes.objects_common import OBJECT_TRIAL_FIELDS, flat_disc, place
from vrgmi.scenes.schema import Param

#: the dotted line between waypoints: a dot every DOT_STEP_M, this big (m)
DOT_STEP_M = 0.03
DOT_RADIUS_M = 0.011
#: the waypoints (the start and the end bigger)
WAYPOINT_RADIUS_M = 0.022
END_RADIUS_M = 0.035
DONE_HEX = "#f2efe6"


class TracePath(MirrorTaskScene):
    """A dotted path lies on the floor in front of the missing foot; the patient slides the
    intact foot's toes along the floor and watches the mirrored foot trace the path from the
    glowing start to the end; passed points turn white."""

    name = "trace_path"
    description = "trace a dotted path on the floor with the mirrored foot's toes"
    limbs = ("leg",)
    params = (
        Param("waypoints", "int", 5, "points along the path", 2, 12),
        Param("length_m", "float", 0.18, "path length (forward)", 0.1, 0.24, unit="m"),
        Param("tolerance_m", "float", 0.05, "how near each point the toes must pass", 0.02,
              0.12, unit="m"),
        Param("time_limit_s", "float", 25.0, "seconds allowed per path", 5.0, 120.0,
              unit="s"),
        Param("trials", "int", 5, "paths in this scene", 1, 50),
    )
    trial_fields = {**OBJECT_TRIAL_FIELDS,
                    "path": "the path's waypoints, engine space (m)",
                    "waypoints_reached": "waypoints passed in order",
                    "mean_deviation_m": "mean distance of the foot from the path (m)",
                    "tolerance_m": "how near each point counts (m)"}
    instruction = N_("Trace the path with your mirrored foot")

    def make_task(self, ctx: SceneContext, rate_hz: float) -> TracePathTask:
        core, d = ctx.core, self.difficulty

        def path(_index: int) -> np.ndarray:
            home, eye, legs = resting_foot_view(core, np.zeros((4, 2, 3)))
            return floor_path(self.rng, home, core.torso.pose, core.amputated,
                              self.difficulty["waypoints"], self.difficulty["length_m"],
                              MIN_FORWARD_M, eye, legs, self.difficulty["tolerance_m"])
        return TracePathTask(path, d["tolerance_m"], d["time_limit_s"], d["trials"],
                             rate_hz=rate_hz)

    def configure(self) -> None:
        super().configure()
        self.task.tolerance_m = self.difficulty["tolerance_m"]

    def build(self, ctx: SceneContext) -> None:
        super().build(ctx)
        self.path_root = ctx.root.attach_new_node("path")
        self.path_root.hide()
        self._drawn_for = None
        self._points: list[Any] = []
        self._dots: list[tuple[int, Any]] = []
        self._state: list[str] = []

    def _build_path(self, path: np.ndarray) -> None:
        """Dots along the path and a marker on each waypoint (once per trial)."""
        base = self.ctx.base
        for child in self.path_root.get_children():
            child.remove_node()
        self._dots = []
        for k in range(1, len(path)):
            a, b = path[k - 1], path[k]
            n = max(1, int(np.linalg.norm(b - a) / DOT_STEP_M))
            for j in range(1, n):
                dot = flat_disc(self.path_root, base, f"dot{k}.{j}", DOT_RADIUS_M, AMBER, 0.9,
                                lift=FLOOR_Z_M)
                place(dot, a + (b - a) * j / n + (0.0, 0.0, FLOOR_Z_M))
                self._dots.append((k, dot))
        self._points = []
        for k, p in enumerate(path):
            r = END_RADIUS_M if k in (0, len(path) - 1) else WAYPOINT_RADIUS_M
            marker = flat_disc(self.path_root, base, f"point{k}", r, AMBER, 0.9, lift=FLOOR_Z_M)
            place(marker, p + (0.0, 0.0, FLOOR_Z_M + 0.001))
            self._points.append(marker)
        self._state = [""] * len(path)

    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        return self.task.update(frame.t, self.effector(frame, BALL))

    def draw(self, frame: SceneFrame) -> None:
        task = self.task
        if not task.active:
            self.path_root.hide()
            return
        if self._drawn_for is not task.path:
            self._build_path(task.path)
            self._drawn_for = task.path
        base = self.ctx.base
        for k, marker in enumerate(self._points):
            state = "done" if k < task.current else "next" if k == task.current else "later"
            if state != self._state[k]:
                self._state[k] = state
                colour = {"done": DONE_HEX, "next": TEAL, "later": AMBER}[state]
                marker.set_color_scale(display_rgba(base, colour, 0.9))
                for seg, dot in self._dots:
                    if seg == k:
                        dot.set_color_scale(display_rgba(base, DONE_HEX if state == "done"
                                                         else AMBER, 0.9))
        self.path_root.show()

    def task_line(self, frame: SceneFrame) -> str:
        task = self.task
        return (_("Put your mirrored toes on the glowing start") if task.current == 0
                else _("Follow the path - point {n} of {total}").format(
                    n=task.current + 1, total=len(task.path)))
