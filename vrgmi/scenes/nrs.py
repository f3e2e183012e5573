"""Pain NRS in VR: "How strong is your pain right now?" on an 11-box scale 0..10.

One hand is enough: left/down lower the value, right/up raise it, select confirms. The
answer goes out as a ``questionnaire`` event (instrument ``nrs``, the moment ``pre`` or
``post``, the value and the response time from the first frame showing the scale).
"""
from __future__ import annotations

from typing import Any

from vrgmi.measures.questionnaires import NRS_ANCHORS, NRS_LOINC, NRS_MAX, NRS_MIN
from vrgmi.render.ui import DIM_RGBA, FacingView, OptionRow, Panel, backdrop
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param

#: seconds the confirmed answer stays on screen before the scene ends
CONFIRM_HOLD_S = 0.6
QUESTIONS = {"pre": "How strong is your pain right now?",
             "post": "How strong is your pain now,\nafter the session?",
             "trial": "How strong is your pain right now?"}
HINT = "Left / right: choose        Trigger: confirm"
STEP = {"left": -1, "down": -1, "right": 1, "up": 1}


class PainNRS(Scene):
    """Pain 0-10 numeric rating scale, answered with one hand."""

    name = "pain_nrs"
    description = "pain 0-10 numeric rating scale (before / after a session)"
    phase = "questionnaire"
    params = (
        Param("moment", "choice", "pre", "when it is asked: before or after the session",
              choices=("pre", "post", "trial")),
        Param("start", "int", 5, "where the selection starts on the scale", lo=0, hi=10),
    )
    emits = ("questionnaire",)

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.value = int(self.difficulty["start"])
        self.answer: int | None = None
        self.message = QUESTIONS[self.difficulty["moment"]].replace("\n", " ")
        self._onset: float | None = None
        self._confirmed_at = 0.0
        self._view: FacingView | None = None
        self._row: OptionRow | None = None
        self._moves = 0

    def setup(self, ctx: SceneContext) -> None:
        """Build the question, the scale and its anchors (nothing without rendering)."""
        super().setup(ctx)
        if ctx.root is None:
            return
        view = self._view = FacingView(ctx.root, "nrs")
        view.place(ctx.core, ctx.core.frame.head, bool(ctx.core.frame.head_valid))
        d = view.distance_m
        row = self._row = OptionRow(view.root, [str(v) for v in range(NRS_MIN, NRS_MAX + 1)],
                                    (0.0, 0.0, 0.0), d, min_line_deg=2.6)
        row.select(self.value)
        edge = row.width_m / 2.0
        question = Panel(view.root, (0.0, 0.0, 0.095), d, 2.6, "nrs-question", card=False)
        question.set_text(QUESTIONS[self.difficulty["moment"]])
        if "\n" in question.text.get_text():
            question.root.set_z(0.095 + question.line_height_m)
        Panel(view.root, (-edge, 0.0, -0.062), d, 1.8, "nrs-low", "left",
              card=False).set_text(NRS_ANCHORS[0])
        Panel(view.root, (edge, 0.0, -0.062), d, 1.8, "nrs-high", "right",
              card=False).set_text(NRS_ANCHORS[1])
        Panel(view.root, (0.0, 0.0, -0.125), d, 1.6, "nrs-hint",
              card=False).set_text(HINT, DIM_RGBA)
        top = question.root.get_z() + question.line_height_m + 0.03
        backdrop(view.root, max(row.width_m, question.width_m) + 0.1, top + 0.16,
                 (0.0, 0.002, (top - 0.16) / 2.0))

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Move the selection, confirm, then end after a short hold."""
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)
        if self._onset is None:
            self._onset = frame.t
        if self.answer is not None:
            self.finished = frame.t - self._confirmed_at >= CONFIRM_HOLD_S
            return
        for event in frame.inputs:
            if event.action in STEP:
                self.value = min(NRS_MAX, max(NRS_MIN, self.value + STEP[event.action]))
                self._moves += 1
            elif event.action == "select":
                self._confirm(event.t)
                break
        if self._row is not None:
            self._row.select(self.value)

    def _confirm(self, t: float) -> None:
        self.answer = self.value
        self._confirmed_at = t
        self.message = f"pain {self.answer} of 10 recorded"
        self.emit("questionnaire", {"instrument": "nrs", "moment": self.difficulty["moment"],
                                    "answers": [self.answer], "scores": {"nrs": self.answer},
                                    "rt_s": round(t - (t if self._onset is None else self._onset), 4),
                                    "moves": self._moves, "loinc": NRS_LOINC}, t)

    def summary(self) -> dict[str, Any]:
        """The answer (None when the scene ended unanswered)."""
        return {"nrs": self.answer, "moment": self.difficulty["moment"]}
