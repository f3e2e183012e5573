"""The skeleton of a questionnaire answered one item at a time with one hand (the SSQ, the
embodiment statements): left/right (or up/down) choose an answer box, select confirms and
moves on, back returns to the previous item to change its answer; nothing is selected until
the patient chooses. After the last item the subclass scores the answers, emits them and the
scene ends :data:`vrgmi.scenes.nrs.CONFIRM_HOLD_S` later."""
from __future__ import annotations

from abc import abstractmethod
from typing import Any

from vrgmi.render.ui import FacingView, OptionRow, Panel
from vrgmi.scenes.base import Scene, SceneFrame
from vrgmi.scenes.nrs import CONFIRM_HOLD_S, STEP, _moved


class ItemQuestionnaire(Scene):
    """One item at a time on a row of answer boxes; subclasses draw the item
    (:meth:`_show`), name the boxes (:attr:`n_levels`) and score and emit (:meth:`_complete`)."""

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.item = 0
        self.answers: list[int | None] = []
        self.cursor: int | None = None         # nothing selected until the patient chooses
        self.scores: dict[str, Any] | None = None
        self._onset: float | None = None
        self._done_at = 0.0
        self._view: FacingView | None = None
        self._row: OptionRow | None = None
        self._progress: Panel | None = None

    @property
    @abstractmethod
    def n_levels(self) -> int:
        """How many answer boxes the row has."""

    @abstractmethod
    def _status(self) -> str:
        """The operator's message while the items are being answered."""

    @abstractmethod
    def _show(self) -> None:
        """Draw the current item, the cursor and the progress (no-op without a display)."""

    @abstractmethod
    def _complete(self, t: float) -> None:
        """Score :attr:`answers`, set :attr:`scores` and emit the ``questionnaire`` event."""

    def _answer(self, cursor: int) -> int:
        """The recorded answer of answer box ``cursor``."""
        return cursor

    def _cursor(self, answer: int | None) -> int | None:
        """The answer box of a recorded ``answer`` (None: not answered)."""
        return answer

    def _duration_s(self, t: float) -> float:
        """Seconds from the first frame to ``t``."""
        return round(t - (t if self._onset is None else self._onset), 3)

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Choose, confirm, go back; score and finish after the last item."""
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)
        if self._onset is None:
            self._onset = frame.t
        if self.scores is not None:
            self.finished = frame.t - self._done_at >= CONFIRM_HOLD_S
            return
        last = len(self.answers) - 1
        for event in frame.inputs:
            if event.action in STEP:
                self.cursor = _moved(self.cursor, STEP[event.action], 0, self.n_levels - 1)
            elif event.action == "select" and self.cursor is not None:
                self.answers[self.item] = self._answer(self.cursor)
                if self.item == last:
                    self._complete(event.t)
                    self._done_at = event.t
                    break
                self.item += 1
                self.cursor = self._cursor(self.answers[self.item])
            elif event.action == "back" and self.item > 0:
                self.item -= 1
                self.cursor = self._cursor(self.answers[self.item])
        if self.scores is None:
            self.message = self._status()
        self._show()

    def summary(self) -> dict[str, Any]:
        """The scores (None when unfinished) and how many items were answered."""
        return {"answered": sum(a is not None for a in self.answers), "scores": self.scores}
