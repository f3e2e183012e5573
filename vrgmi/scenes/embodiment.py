"""The embodiment questionnaire in the headset, after a mirror block.

One statement at a time, rated on seven boxes from -3 (strongly disagree) to +3 (strongly
agree), answered with one hand like the SSQ (:mod:`vrgmi.scenes.ssq`): left/right (or
up/down) choose, select confirms and moves on, back returns to the previous statement.
Nothing is selected at first (the first right/up press selects -3, the first left/down +3,
from the side the cursor enters). The items are vrgmi's own or the clinic's file
(``embodiment.items_file``, :func:`vrgmi.measures.embodiment.load_items`); after the last
one the subscale scores go out in a ``questionnaire`` event (instrument ``embodiment``; each
answer with its item id, subscale and keying; the scores with the texts' ``source``; the
mirror block it followed).
"""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import N_, _
from vrgmi.measures.embodiment import SCALE_MAX, SCALE_MIN, ItemSet, load_items, score
from vrgmi.render.ui import DIM_RGBA, FacingView, OptionRow, Panel, backdrop
from vrgmi.scenes.base import SceneContext
from vrgmi.scenes.item_questionnaire import ItemQuestionnaire
from vrgmi.scenes.schema import Param

QUESTION = N_("How much do you agree?")
HINT = N_("Left / right: choose        Trigger: confirm\nBack: the previous statement")
#: a statement wider than this (m, at the panel's distance) wraps onto the next line
WRAP_M = 0.85
#: the statement's (last line's) height above the answer boxes (m)
STATEMENT_Z = 0.085
LEVELS = tuple(f"{v:+d}" if v else "0" for v in range(SCALE_MIN, SCALE_MAX + 1))


class EmbodimentQuestionnaire(ItemQuestionnaire):
    """Embodiment statements after a mirror block, answered with one hand."""

    name = "embodiment"
    description = "embodiment questionnaire (ownership, agency, location, appearance)"
    phase = "questionnaire"
    params = (Param("block", "int", 0, "the mirror block it follows (0 = not tied to one)",
                    lo=0, hi=99),)
    emits = ("questionnaire",)
    instructions = N_("A few statements about the virtual limb you just saw. For each, "
                      "show how much you agree, from -3 (strongly disagree) to +3 (strongly "
                      "agree). There are no right or wrong answers.")

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.items: ItemSet | None = None
        self.message = "embodiment questionnaire"
        self._statement: Panel | None = None

    @property
    def n_levels(self) -> int:
        """The seven boxes -3..+3."""
        return len(LEVELS)

    def _answer(self, cursor: int) -> int:
        return cursor + SCALE_MIN

    def _cursor(self, answer: int | None) -> int | None:
        return None if answer is None else answer - SCALE_MIN

    def _status(self) -> str:
        return f"embodiment statement {self.item + 1} of {len(self.answers)}"

    def setup(self, ctx: SceneContext) -> None:
        """Load the items (the clinic's file, when set) and build the panels."""
        super().setup(ctx)
        path = ctx.settings.embodiment.items_file if ctx.settings is not None else ""
        self.items = load_items(path)
        self.answers = [None] * len(self.items.items)
        if ctx.root is None:
            return
        view = self._view = FacingView(ctx.root, "embodiment")
        view.place(ctx.core, ctx.core.frame.head, bool(ctx.core.frame.head_valid))
        d = view.distance_m
        self._row = OptionRow(view.root, list(LEVELS), (0.0, 0.0, 0.0), d, min_line_deg=2.6)
        edge = self._row.width_m / 2.0
        low, high = (self._text(a) for a in self.items.anchors)
        Panel(view.root, (-edge, 0.0, -0.062), d, 1.6, "emb-low", "left",
              card=False).set_text(low)
        Panel(view.root, (edge, 0.0, -0.062), d, 1.6, "emb-high", "right",
              card=False).set_text(high)
        question = Panel(view.root, (0.0, 0.0, 0.235), d, 1.8, "emb-question", card=False)
        question.set_text(_(QUESTION), DIM_RGBA)
        statement = self._statement = Panel(view.root, (0.0, 0.0, STATEMENT_Z), d, 2.4,
                                            "emb-statement", card=False)
        # long statements wrap onto a second line at WRAP_M (in the text's own units)
        statement.text.set_wordwrap(WRAP_M * statement.text.get_line_height()
                                    / statement.line_height_m)
        self._progress = Panel(view.root, (0.0, 0.0, -0.105), d, 1.6, "emb-progress",
                               card=False)
        hint = Panel(view.root, (0.0, 0.0, -0.16), d, 1.6, "emb-hint", card=False)
        hint.set_text(_(HINT), DIM_RGBA)
        width = max(self._row.width_m, WRAP_M) + 0.12
        backdrop(view.root, width, 0.55, (0.0, 0.002, 0.04))
        self._show()

    def _text(self, text: str) -> str:
        return _(text) if self.items is not None and self.items.translate else text

    def _show(self) -> None:
        if self._row is None or self.items is None:
            return
        self._row.select(self.cursor)
        statement = self._statement
        statement.set_text(self._text(self.items.items[self.item].text))
        # a statement wrapped onto more lines grows upward, clear of the answer boxes
        statement.root.set_z(STATEMENT_Z + (statement.text.get_num_rows() - 1)
                             * statement.line_height_m)
        self._progress.set_text(_("statement {n} of {total}").format(
            n=self.item + 1, total=len(self.items.items)))

    def _complete(self, t: float) -> None:
        items = self.items
        self.scores = score(items, self.answers)
        self.message = f"embodiment recorded ({self.scores['embodiment']:+.2f})"
        self.emit("questionnaire", {
            "instrument": "embodiment", "moment": "post", "block": self.difficulty["block"],
            "answers": [{"item": i.id, "subscale": i.subscale, "reverse": i.reverse,
                         "value": a} for i, a in zip(items.items, self.answers)],
            "scores": {**self.scores, "source": items.source},
            "duration_s": self._duration_s(t)}, t)
