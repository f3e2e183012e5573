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
from vrgmi.scenes.base import SceneContext
from vrgmi.scenes.item_questionnaire import ItemQuestionnaire
from vrgmi.scenes.schema import Param

QUESTION = N_("How much does this affect you right now?")
HINT = N_("Left / right: choose        Trigger: confirm\nBack: the previous symptom")


class SSQ(ItemQuestionnaire):
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
        self.answers = [None] * len(SSQ_ITEMS)
        self.message = self._status()
        self._symptom: Panel | None = None

    @property
    def n_levels(self) -> int:
        """None, Slight, Moderate, Severe."""
        return len(SSQ_LEVELS)

    def _status(self) -> str:
        return f"symptom {self.item + 1} of {len(SSQ_ITEMS)}: {SSQ_ITEMS[self.item]}"

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

    def _complete(self, t: float) -> None:
        self.scores = score_ssq(self.answers).as_dict()
        self.message = f"SSQ recorded (total {self.scores['total']:.1f})"
        self.emit("questionnaire", {"instrument": "ssq", "moment": self.difficulty["moment"],
                                    "answers": list(self.answers), "items": list(SSQ_ITEMS),
                                    "scores": self.scores,
                                    "duration_s": self._duration_s(t)}, t)
