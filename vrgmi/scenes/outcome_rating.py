"""One item of the outcome battery asked in the headset (a follow-up visit, docs/outcomes.md).

The pain NRS's scene with the item's own question and anchors: an 11-box scale 0..10, nothing
selected at first, left/right (or the thumbstick) choose, select confirms, back skips (an
item skipped leaves its measure to the companion's form). The answer goes out as a
``questionnaire`` event: instrument ``outcome``, the visit's time point as ``moment``, the
``measure`` and ``item``, the rating and the response time.
"""
from __future__ import annotations

import textwrap
from typing import Any

from vrgmi.outcomes.battery import MEASURES, Item, OutcomeError
from vrgmi.outcomes.visit import HEADSET_MEASURES, INSTRUMENT
from vrgmi.scenes.nrs import PainNRS
from vrgmi.scenes.schema import Param

#: characters per line of a question (a long item wraps onto a few short lines)
LINE_CHARS = 36


class OutcomeRating(PainNRS):
    """One 0-10 outcome item, answered with one hand. ``question`` and ``anchors`` are the
    clinic's texts for it (default: the built-in ones); ``visit`` the time point."""

    name = "outcome_rating"
    description = "one 0-10 item of the outcome battery (a follow-up visit in the headset)"
    phase = "questionnaire"
    params = (
        Param("measure", "choice", HEADSET_MEASURES[0], "the battery's measure",
              choices=HEADSET_MEASURES),
        Param("item", "choice", MEASURES[HEADSET_MEASURES[0]].items[0].id, "its item",
              choices=tuple(dict.fromkeys(i.id for m in HEADSET_MEASURES
                                          for i in MEASURES[m].items))),
        Param("skippable", "bool", True, "back ends the question unanswered"),
    )

    def __init__(self, visit: str = "", question: str = "",
                 anchors: tuple[str, str] | list[str] = (), **difficulty: Any) -> None:
        self.visit = visit
        self._question = question
        self._anchors = tuple(anchors) if len(anchors) == 2 else None
        super().__init__(**difficulty)

    def _item(self) -> Item:
        m = MEASURES[self.difficulty["measure"]]
        item = next((i for i in m.items if i.id == self.difficulty["item"]), None)
        if item is None:
            raise OutcomeError(f"outcome_rating: {m.id} has no item "
                               f"{self.difficulty['item']!r}")
        return item

    def question_text(self) -> str:
        """The item's text (the clinic's, else the built-in one), wrapped onto short lines."""
        return textwrap.fill(self._question or self._item().text, LINE_CHARS)

    def anchor_texts(self) -> tuple[str, str]:
        """The item's own ends of the scale."""
        low, high = self._anchors or self._item().anchors
        return low, high

    def _confirm(self, t: float) -> None:
        self.answer = self.value
        self._confirmed_at = t
        self.message = f"{self.difficulty['measure']} {self.difficulty['item']}: " \
                       f"{self.answer} of 10 recorded"
        self.emit("questionnaire", {
            "instrument": INSTRUMENT, "moment": self.visit,
            "measure": self.difficulty["measure"], "item": self.difficulty["item"],
            "answers": [self.answer], "scores": {self.difficulty["item"]: self.answer},
            "rt_s": round(t - (t if self._onset is None else self._onset), 4),
            "moves": self._moves}, t)

    def summary(self) -> dict[str, Any]:
        """The rating (None when skipped) with its measure and item."""
        return {"measure": self.difficulty["measure"], "item": self.difficulty["item"],
                "rating": self.answer, "skipped": self.skipped}
