"""Pain NRS in VR: "How strong is your pain right now?" on an 11-box scale 0..10.

One hand is enough: left/down lower the value, right/up raise it, select confirms. No value
is selected at first (a pre-selected value anchors the rating): the first right/up press
selects 0, the first left/down press 10, and select does nothing until a value is chosen.
The answer goes out as a ``questionnaire`` event (instrument ``nrs``, the moment ``pre``,
``post`` or ``check`` (an in-session pain check), the value and the response time from the
first frame showing the scale). A ``skippable`` NRS (the post NRS after a patient's stop)
ends unanswered on back.
"""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import N_, _
from vrgmi.measures.questionnaires import NRS_ANCHORS, NRS_LOINC, NRS_MAX, NRS_MIN
from vrgmi.render.ui import DIM_RGBA, FacingView, OptionRow, Panel, backdrop
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param

#: seconds the confirmed answer stays on screen before the scene ends
CONFIRM_HOLD_S = 0.6
QUESTIONS = {"pre": N_("How strong is your pain right now?"),
             "post": N_("How strong is your pain now,\nafter the session?"),
             "trial": N_("How strong is your pain right now?"),
             "check": N_("Pain check: how strong is\nyour pain right now?")}
HINT = N_("Left / right: choose        Trigger: confirm")
SKIP_HINT = N_("Left / right: choose     Trigger: confirm     Back: skip")
STEP = {"left": -1, "down": -1, "right": 1, "up": 1}


class PainNRS(Scene):
    """Pain 0-10 numeric rating scale, answered with one hand."""

    name = "pain_nrs"
    description = "pain 0-10 numeric rating scale (before / after a session)"
    phase = "questionnaire"
    params = (
        Param("moment", "choice", "pre", "when it is asked: before or after the session",
              choices=("pre", "post", "trial", "check")),
        Param("skippable", "bool", False, "back ends the question unanswered"),
    )
    emits = ("questionnaire",)

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.value: int | None = None          # nothing selected until the patient chooses
        self.answer: int | None = None
        self.skipped = False
        self.message = self.question_text().replace("\n", " ")
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
        question.set_text(self.question_text())
        lines = question.text.get_text().count("\n")
        question.root.set_z(0.095 + lines * question.line_height_m)
        low, high = self.anchor_texts()
        Panel(view.root, (-edge, 0.0, -0.062), d, 1.8, "nrs-low", "left",
              card=False).set_text(low)
        Panel(view.root, (edge, 0.0, -0.062), d, 1.8, "nrs-high", "right",
              card=False).set_text(high)
        Panel(view.root, (0.0, 0.0, -0.125), d, 1.6, "nrs-hint", card=False).set_text(
            _(SKIP_HINT if self.difficulty["skippable"] else HINT), DIM_RGBA)
        top = question.root.get_z() + question.line_height_m + 0.03
        backdrop(view.root, max(row.width_m, question.width_m) + 0.1, top + 0.16,
                 (0.0, 0.002, (top - 0.16) / 2.0))

    def question_text(self) -> str:
        """The question above the scale (translated; newlines separate lines)."""
        return _(QUESTIONS[self.difficulty["moment"]])

    def anchor_texts(self) -> tuple[str, str]:
        """The words at the scale's low and high ends (translated)."""
        return _(NRS_ANCHORS[0]), _(NRS_ANCHORS[1])

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Move the selection, confirm, then end after a short hold."""
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)
        if self._onset is None:
            self._onset = frame.t
        if self.answer is not None or self.skipped:
            self.finished = frame.t - self._confirmed_at >= CONFIRM_HOLD_S
            return
        for event in frame.inputs:
            if event.action in STEP:
                self.value = _moved(self.value, STEP[event.action], NRS_MIN, NRS_MAX)
                self._moves += 1
            elif event.action == "select" and self.value is not None:
                self._confirm(event.t)
                break
            elif event.action == "back" and self.difficulty["skippable"]:
                self.skipped, self._confirmed_at = True, event.t
                self.message = "pain rating skipped"
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
        """The answer (None when the scene ended unanswered) and whether it was skipped."""
        return {"nrs": self.answer, "moment": self.difficulty["moment"], "skipped": self.skipped}


def _moved(value: int | None, step: int, lo: int, hi: int) -> int:
    """The selection after one press: from nothing selected, a press toward higher values
    selects ``lo`` and one toward lower values ``hi`` (the cursor enters the scale from the
    side it moves away from); else one step, clipped."""
    if value is None:
        return lo if step > 0 else hi
    return min(hi, max(lo, value + step))
