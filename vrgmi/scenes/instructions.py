"""The instruction screen every scene with :attr:`Scene.instructions` shows first.

The screen shows the scene's instruction text (translated, :mod:`vrgmi.i18n`) on a card in
front of the seated patient and reads it aloud (:mod:`vrgmi.speech`, when
``ui.speak_instructions``); the patient dismisses it with ``select`` once it has been up for
:data:`MIN_READ_S`, or it closes by itself after ``ui.instruction_timeout_s``. Only then does
the scene run (its practice trials first). How it ended goes into the scene's
``scene_finished`` event (``instructions``: ``by`` select / timeout, ``read_s``).
"""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import _, N_, language
from vrgmi.input import InputEvent

#: the screen ignores ``select`` for this long, so a press meant for the previous scene
#: does not skip it
MIN_READ_S = 1.0
#: the hint under every instruction text
DISMISS_HINT = N_("Press select when you are ready")
#: the card: metres in front of the eyes, below eye level; line heights (deg)
CARD_DISTANCE_M = 1.2
CARD_DROP_M = 0.05
TEXT_LINE_DEG = 1.8
HINT_LINE_DEG = 1.6
WRAP_EM = 26.0


class InstructionGate:
    """When the instruction screen ends: ``select`` after :data:`MIN_READ_S`, or the
    timeout. Feed :meth:`update` every frame until :attr:`done`. No Panda3D."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = float(timeout_s)
        self.shown_t: float | None = None
        self.done_t: float | None = None
        self.by: str | None = None

    @property
    def done(self) -> bool:
        """True once the patient dismissed the screen or it timed out."""
        return self.by is not None

    def update(self, t: float, inputs: list[InputEvent]) -> bool:
        """Advance to display time ``t``; True once done."""
        if self.done:
            return True
        if self.shown_t is None:
            self.shown_t = t
        for event in inputs:
            if event.action == "select" and event.t >= self.shown_t + MIN_READ_S:
                self.by, self.done_t = "select", event.t
                return True
        if t >= self.shown_t + self.timeout_s:
            self.by, self.done_t = "timeout", t
        return self.done

    def record(self) -> dict[str, Any]:
        """How the screen ended, for the ``scene_finished`` event."""
        read = None if self.done_t is None or self.shown_t is None else self.done_t - self.shown_t
        return {"by": self.by, "read_s": None if read is None else round(read, 3),
                "language": language()}


class InstructionScreen:
    """The gate, its card (when rendering) and the spoken text."""

    def __init__(self, text: str, ctx, settings) -> None:
        self.gate = InstructionGate(settings.ui.instruction_timeout_s)
        self.text = text                      # already in the UI language
        self._view = None
        if ctx.root is not None:
            self._build(ctx.root)
        self._speaker = None
        if settings.ui.speak_instructions:
            from vrgmi.speech import Speaker
            self._speaker = Speaker(ctx.base, language())
            self._speaker.say(self.text)

    def _build(self, root) -> None:
        from vrgmi.render.ui import DIM_RGBA, FacingView, Panel, backdrop

        view = self._view = FacingView(root, "instructions", CARD_DISTANCE_M, CARD_DROP_M)
        body = Panel(view.root, (0.0, 0.0, 0.0), CARD_DISTANCE_M, TEXT_LINE_DEG,
                     "instructions-text", card=False)
        hint = Panel(view.root, (0.0, 0.0, 0.0), CARD_DISTANCE_M, HINT_LINE_DEG,
                     "instructions-hint", card=False)
        body.text.set_wordwrap(WRAP_EM)
        body.set_text(self.text)
        hint.set_text(_(DISMISS_HINT), DIM_RGBA)
        # the text, a blank line, the hint: centred on the card
        rows = body.text.get_num_rows()
        gap = body.line_height_m
        total = rows * body.line_height_m + gap + hint.line_height_m
        body.root.set_z(total / 2.0 - 0.8 * body.line_height_m)
        hint.root.set_z(-total / 2.0 + 0.2 * hint.line_height_m)
        width = max(body.width_m, hint.width_m)
        backdrop(view.root, width + 3 * gap, total + 2 * gap, (0.0, 0.004, 0.0),
                 name="instructions-card")
        self.body, self.hint = body, hint

    def update(self, frame, core) -> bool:
        """Show the screen this frame; True once it is done (then it is hidden)."""
        if self._view is not None:
            self._view.place(core, frame.head, frame.head_valid)
        if self._speaker is not None:
            self._speaker.poll()
        done = self.gate.update(frame.t, frame.inputs)
        if done:
            self.close()
        return done

    def close(self) -> None:
        """Hide the card and stop speaking."""
        if self._view is not None:
            self._view.root.remove_node()
            self._view = None
        if self._speaker is not None:
            self._speaker.stop()
            self._speaker = None
