"""A scripted patient for the embodiment measures (questionnaire, drift task) at a human pace.

It watches the session's current block and answers through ``press(action)`` (the desktop
path pushes to the engine's input queue; the headset path injects runtime directives): it
reads an instruction screen for :data:`READ_S` before pressing select, thinks
:data:`THINK_S` per questionnaire statement, and in the drift task moves the intact hand
(``hand.goal`` of a :class:`tests.mirror_patient.SeatedPatient`, when given) to the mirror
image of where it "feels" the phantom, :attr:`felt_offset` (body frame, m) from where it is
drawn, before it confirms after :data:`POINT_S`. A headset test may quicken the pace.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

READ_S = 4.0
THINK_S = 3.0
POINT_S = 2.5
#: the patient's answers to the built-in statements (-3..+3, in item order)
ANSWERS = (2, 3, -1, 3, 2, -2, 1, -1, 2, 0, 1)


class EmbodimentPatient:
    """Drives one session's questionnaires and drift tasks (see the module docstring)."""

    def __init__(self, press: Callable[[str], None], hand=None,
                 felt_offset: dict[str, tuple[float, float, float]] | None = None,
                 read_s: float = READ_S, think_s: float = THINK_S,
                 point_s: float = POINT_S) -> None:
        self.press, self.hand = press, hand
        self.read_s, self.think_s, self.point_s = read_s, think_s, point_s
        self.felt_offset = felt_offset or {"pre": (0.0, -0.10, 0.0),
                                           "post": (0.0, -0.04, 0.0)}
        self.block = None
        self.since = 0.0
        self.done: set = set()
        self.shown: dict[int, float] = {}
        self.point_at = 0.0
        self.rest = None

    def __call__(self, session, t: float) -> None:
        block = session.current
        if block is not self.block:
            self.block, self.since, self.done, self.shown = block, t, set(), {}
        scene = session.scene.inner if session.scene is not None else None
        if block is None or scene is None:
            return
        age = t - self.since
        screen = scene.instruction_screen
        if screen is not None and not screen.gate.done:
            self._once("read", age >= self.read_s, ["select"])
            return
        name = block.scene
        if name == "pain_nrs":
            self._once("nrs", age >= self.read_s + 1.0, ["right"] * 3 + ["select"])
        elif name == "breathing":                    # a break offered: no, thank you
            self._once("skip", age >= 1.0, ["back"])
        elif name == "ssq":
            self._once("ssq", age >= 1.0, ["right", "select"] * 16)
        elif name == "embodiment":
            self._embodiment(scene, t)
        elif name == "proprioceptive_drift":
            self._drift(session, scene, t)

    def _once(self, key, due: bool, actions: list[str]) -> None:
        if due and key not in self.done:
            self.done.add(key)
            for a in actions:
                self.press(a)

    def _embodiment(self, scene, t: float) -> None:
        if scene.scores is not None or ("answered", scene.item) in self.done:
            return
        shown = self.shown.setdefault(scene.item, t)
        if t - shown >= self.think_s:
            self.done.add(("answered", scene.item))
            value = ANSWERS[scene.item % len(ANSWERS)]
            # from "nothing selected" the first right selects -3, each further one adds 1
            for a in ["right"] * (value + 4) + ["select"]:
                self.press(a)

    def _drift(self, session, scene, t: float) -> None:
        hand = self.hand
        key = ("point", len(scene.trials))
        if scene.state == "point":
            if hand is not None and key not in self.done:
                if self.rest is None:
                    self.rest = hand.pos.copy()
                dx, dy, dz = self.felt_offset[scene.difficulty["moment"]]
                goal = self.rest + np.array([-dx, dy, dz])  # the mirror image of the offset
                rot = hand.rot.copy()
                hand.goal = lambda _t, g=goal, r=rot: (g, r)
            if key not in self.done:
                self.done.add(key)
                self.point_at = t
            if t - self.point_at >= self.point_s and ("pressed",) + key not in self.done:
                self.done.add(("pressed",) + key)
                self.press("select")
        elif hand is not None and self.rest is not None:
            rot = hand.rot.copy()
            hand.goal = lambda _t, g=self.rest.copy(), r=rot: (g, r)
