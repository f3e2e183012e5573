"""Simulator Sickness Questionnaire in VR: 16 symptoms, one at a time, rated None..Severe.

One hand is enough: left/right (or up/down) choose, select confirms and moves on, back goes
to the previous symptom to change its answer. Every symptom starts with no answer selected
(a pre-selected "None" let 16 presses of confirm record all zeros): the first right/up
press selects "None", the first left/down press "Severe", and confirm does nothing until an
answer is chosen. After the last one the scores
(:func:`vrgmi.measures.questionnaires.score_ssq`) go out in a ``questionnaire`` event.
"""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import N_, _
from vrgmi.measures.questionnaires import SSQ_ITEMS, SSQ_LEVELS, score_ssq
from vrgmi.render.ui import DIM_RGBA, FacingView, OptionRow, Panel, backdrop
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.nrs import CONFIRM_HOLD_S, STEP, _moved
from vrgmi.scenes.schema import Param

QUESTION = N_("How much does this affect you right now?")
HINT = N_("Left / right: choose        Trigger: confirm\nBack: the previous symptom")


class SSQ(Scene):
    """The 16-item Simulator Sickness Questionnaire, answered with one hand."""

    name = "ssq"
    description = "simulator sickness questionnaire (16 symptoms, after a session)"
    phase = "questionnaire"
    params = (
        Param("moment", "choice", "post", "when it is asked", choices=("pre", "post")),
    )
    emits = ("questionnaire",)

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.item = 0
        self.answers: list[int | None] = [None] * len(SSQ_ITEMS)
        self.cursor: int | None = None         # nothing selected until the patient chooses
        self.scores: dict[str, float] | None = None
        self.message = f"symptom 1 of {len(SSQ_ITEMS)}: {SSQ_ITEMS[0]}"
        self._onset: float | None = None
        self._done_at = 0.0
        self._view: FacingView | None = None
        self._row: OptionRow | None = None
        self._symptom: Panel | None = None
        self._progress: Panel | None = None

    def setup(self, ctx: SceneContext) -> None:
        """Build the question, the symptom, the four answers and the progress line."""
        super().setup(ctx)
        if ctx.root is None:
            return
        view = self._view = FacingView(ctx.root, "ssq")
        view.place(ctx.core, ctx.core.frame.head, bool(ctx.core.frame.head_valid))
        d = view.distance_m
        self._row = OptionRow(view.root, [_(level) for level in SSQ_LEVELS], (0.0, 0.0, 0.0), d,
                              min_line_deg=2.6, gap_m=0.02)
        question = Panel(view.root, (0.0, 0.0, 0.165), d, 1.8, "ssq-question", card=False)
        question.set_text(_(QUESTION), DIM_RGBA)
        self._symptom = Panel(view.root, (0.0, 0.0, 0.085), d, 3.2, "ssq-symptom", card=False)
        self._progress = Panel(view.root, (0.0, 0.0, -0.068), d, 1.7, "ssq-progress",
                               card=False)
        hint = Panel(view.root, (0.0, 0.0, -0.125), d, 1.6, "ssq-hint", card=False)
        hint.set_text(_(HINT), DIM_RGBA)
        width = max(self._row.width_m, question.width_m, hint.width_m, 0.5) + 0.1
        backdrop(view.root, width, 0.41, (0.0, 0.002, 0.015))
        self._show()

    def _show(self) -> None:
        if self._row is None:
            return
        self._row.select(self.cursor)
        self._symptom.set_text(_(SSQ_ITEMS[self.item]))
        self._progress.set_text(_("symptom {n} of {total}").format(n=self.item + 1,
                                                                  total=len(SSQ_ITEMS)))

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Choose, confirm, go back; score and finish after the last symptom."""
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)
        if self._onset is None:
            self._onset = frame.t
        if self.scores is not None:
            self.finished = frame.t - self._done_at >= CONFIRM_HOLD_S
            return
        for event in frame.inputs:
            if event.action in STEP:
                self.cursor = _moved(self.cursor, STEP[event.action], 0, len(SSQ_LEVELS) - 1)
            elif event.action == "select" and self.cursor is not None:
                self.answers[self.item] = self.cursor
                if self.item == len(SSQ_ITEMS) - 1:
                    self._complete(event.t)
                    break
                self.item += 1
                self.cursor = self.answers[self.item]
            elif event.action == "back" and self.item > 0:
                self.item -= 1
                self.cursor = self.answers[self.item]
        if self.scores is None:
            self.message = f"symptom {self.item + 1} of {len(SSQ_ITEMS)}: {SSQ_ITEMS[self.item]}"
        self._show()

    def _complete(self, t: float) -> None:
        self.scores = score_ssq(self.answers).as_dict()
        self._done_at = t
        self.message = f"SSQ recorded (total {self.scores['total']:.1f})"
        self.emit("questionnaire", {"instrument": "ssq", "moment": self.difficulty["moment"],
                                    "answers": list(self.answers), "items": list(SSQ_ITEMS),
                                    "scores": self.scores,
                                    "duration_s": round(t - (t if self._onset is None else self._onset), 3)}, t)

    def summary(self) -> dict[str, Any]:
        """The scores (None when unfinished) and how many symptoms were answered."""
        return {"answered": sum(a is not None for a in self.answers), "scores": self.scores}
