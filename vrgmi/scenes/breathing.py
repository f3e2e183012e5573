"""Rest views: guided breathing between blocks, and the calm view after an emergency stop.

``breathing``: a soft glowing disc slowly grows while the patient breathes in and shrinks
while they breathe out ("breathe in" / "breathe out"), at ``breaths_per_min`` (default 6, a
calm paced rate) for ``minutes``. With ``ask_first`` it first offers the break (select:
yes, back: skip). It measures nothing but its own summary.

``calm``: the room and limbs are gone (the session runner hides them), a dim background and
one calm line; shown within the frame an emergency stop arrives.
"""
from __future__ import annotations

import math
from typing import Any

from vrgmi.i18n import N_, _
from vrgmi.render.ui import (CALM_CLEAR_RGBA, DIM_RGBA, HIGHLIGHT_RGBA, FacingView, Panel,
                             backdrop, soft_disc)
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param

OFFER = N_("Time for a short breathing break?\n\n"
           "Trigger: yes, let's breathe      Back: no, continue")
DISC_RADIUS_M = 0.15
SMALL, LARGE = 0.45, 1.0


def breath_phase(t: float, breaths_per_min: float, inhale_fraction: float) -> tuple[bool, float]:
    """(breathing in?, disc size 0..1) at ``t`` seconds into paced breathing: the size eases
    up over the in-breath and down over the out-breath (a half cosine each)."""
    period = 60.0 / breaths_per_min
    x = (t % period) / period
    if x < inhale_fraction:
        return True, 0.5 - 0.5 * math.cos(math.pi * x / inhale_fraction)
    return False, 0.5 + 0.5 * math.cos(math.pi * (x - inhale_fraction) / (1.0 - inhale_fraction))


class Breathing(Scene):
    """Paced breathing with a growing and shrinking soft disc."""

    name = "breathing"
    description = "guided slow breathing between blocks (a growing and shrinking disc)"
    phase = "rest"
    params = (
        Param("breaths_per_min", "float", 6.0, "paced breathing rate", lo=3.0, hi=12.0,
              unit="/min"),
        Param("minutes", "float", 1.0, "how long the breathing lasts", lo=0.25, hi=10.0,
              unit="min"),
        Param("inhale_fraction", "float", 0.4, "share of each breath spent breathing in "
              "(a longer out-breath calms)", lo=0.3, hi=0.6),
        Param("ask_first", "bool", False, "offer the break first (trigger: yes, back: skip)"),
    )

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.asking = bool(self.difficulty["ask_first"])
        self.skipped = False
        self.elapsed = 0.0
        self.message = "offering a breathing break" if self.asking else "breathe in"
        self._view: FacingView | None = None
        self._disc = self._card = None
        self._label: Panel | None = None
        self._offer: Panel | None = None

    def setup(self, ctx: SceneContext) -> None:
        """Build the disc, its label and the offer card."""
        super().setup(ctx)
        if ctx.root is None:
            return
        view = self._view = FacingView(ctx.root, "breathing", distance_m=1.2, drop_m=0.05)
        view.place(ctx.core, ctx.core.frame.head, bool(ctx.core.frame.head_valid))
        self._card = backdrop(view.root, 2.3 * DISC_RADIUS_M, 2.3 * DISC_RADIUS_M + 0.09,
                              (0.0, 0.003, 0.0))
        self._disc = soft_disc(view.root, DISC_RADIUS_M, (*HIGHLIGHT_RGBA[:3], 0.9))
        self._disc.set_z(0.045)
        self._label = Panel(view.root, (0.0, 0.0, -0.145), view.distance_m, 2.4,
                            "breathing-label", card=False)
        self._offer = Panel(view.root, (0.0, -0.01, 0.02), view.distance_m, 2.0,
                            "breathing-offer")
        self._offer.set_text(_(OFFER))
        self._show()

    def _show(self) -> None:
        if self._disc is None:
            return
        self._offer.show(self.asking)
        for node in (self._disc, self._card):
            if self.asking:
                node.hide()
            else:
                node.show()
        self._label.show(not self.asking)
        inhale, size = breath_phase(self.elapsed, self.difficulty["breaths_per_min"],
                                    self.difficulty["inhale_fraction"])
        self._disc.set_scale(SMALL + (LARGE - SMALL) * size)
        self._label.set_text(_("breathe in") if inhale else _("breathe out"),
                             DIM_RGBA if not inhale else (0.95, 0.94, 0.90, 1.0))

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Offer, then pace the breathing; select or back ends it early."""
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)
        for event in frame.inputs:
            if self.asking and event.action == "select":
                self.asking = False
            elif event.action == "back" or (not self.asking and event.action == "select"):
                self.skipped = self.asking
                self.finished = True
                return
        if not self.asking:
            self.elapsed += dt
            inhale, _ = breath_phase(self.elapsed, self.difficulty["breaths_per_min"],
                                     self.difficulty["inhale_fraction"])
            self.message = "breathe in" if inhale else "breathe out"
            if self.elapsed >= 60.0 * self.difficulty["minutes"]:
                self.finished = True
        self._show()

    def summary(self) -> dict[str, Any]:
        """Seconds breathed, whole breaths, the rate, and whether the offer was declined."""
        return {"seconds": round(self.elapsed, 2), "skipped": self.skipped,
                "breaths": int(self.elapsed * self.difficulty["breaths_per_min"] / 60.0),
                "breaths_per_min": self.difficulty["breaths_per_min"]}


class CalmView(Scene):
    """A dim, quiet view with one calm line; the runner shows it on an emergency stop."""

    name = "calm"
    description = "the calm view after an emergency stop (dim, nothing moving)"
    phase = "rest"
    params = (Param("text", "choice", "stopped", "which calm message to show",
                    choices=("stopped", "paused", "finished")),)
    MESSAGES = {"stopped": N_("We have stopped.\nTake your time,\nyour therapist is with you."),
                "paused": N_("Paused.\nRest for a moment,\nyour therapist will continue."),
                "finished": N_("Session finished - thank you.\nPlease wait for\nyour therapist.")}

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.message = self.MESSAGES[self.difficulty["text"]].replace("\n", " ")
        self._saved_clear = None
        self._view: FacingView | None = None

    def setup(self, ctx: SceneContext) -> None:
        """Dim the background and show the message in front of the patient."""
        super().setup(ctx)
        if ctx.root is None or ctx.base is None:
            return
        self._saved_clear = ctx.base.win.get_clear_color()
        ctx.base.win.set_clear_color(CALM_CLEAR_RGBA)
        # under render, not the (hidden) world: nothing else of the session stays visible
        view = self._view = FacingView(ctx.base.render, "calm", distance_m=1.3)
        view.place(ctx.core, ctx.core.frame.head, True)
        text = Panel(view.root, (0.0, 0.0, 0.065), view.distance_m, 2.4, "calm-text",
                     card=False)
        text.set_text(_(self.MESSAGES[self.difficulty["text"]]))
        backdrop(view.root, text.width_m + 0.12, 4.6 * text.line_height_m,
                 (0.0, 0.002, 0.065 - 1.0 * text.line_height_m), (0.10, 0.13, 0.15, 0.95))

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Nothing moves; the view is placed once the head is tracked."""
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)

    def teardown(self) -> None:
        """Restore the background and remove the view."""
        if self.ctx is not None and self._saved_clear is not None:
            self.ctx.base.win.set_clear_color(self._saved_clear)
        if self._view is not None:
            self._view.root.remove_node()
        super().teardown()
