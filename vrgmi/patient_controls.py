"""The patient's own controls: a long press of the menu button, and the desktop's stop keys.

Holding the controller's menu button for ``safety.recenter_hold_s`` (1.0 s) recentres the
view (the ``recenter`` :class:`~vrgmi.control.Command`, source ``menu_hold``); keeping it
held to ``safety.stop_hold_s`` (2.5 s) is the patient's stop (``patient_stop``, source
``menu_hold``). A shorter press does nothing, so a brush of the button cannot stop a
session. The ``pause`` action (the desktop's pause key and Escape) stops at once (source
``key``). Commands go through the session's :class:`~vrgmi.control.CommandQueue` with
``by="patient"``, like the therapist's, so they are applied and recorded the same way.
Math core: no Panda3D; the session shows :meth:`PatientControls.notice` in the headset.
"""
from __future__ import annotations

from vrgmi.control import Command, CommandQueue
from vrgmi.i18n import N_, _
from vrgmi.input import InputQueue
from vrgmi.settings import SafetySettings

#: the input actions these controls take before the scene sees the rest
PATIENT_ACTIONS = ("menu", "menu_release", "pause")
RECENTRED_TEXT = N_("Recentred - keep holding to stop")
HOLD_TEXT = N_("Keep holding to recentre")
STOPPING_TEXT = N_("Stopping the session")
#: a hold shorter than this fraction of the recentre time shows nothing (a brief press)
NOTICE_AFTER = 0.2


class MenuHold:
    """One button's hold: when it went down, and which thresholds it has passed.

    ``press(t)`` / ``release(t)`` feed the button's edges (display-clock seconds);
    ``update(t)`` returns the actions reached by ``t`` since the last call, in order
    (``"recenter"`` at ``recenter_s``, ``"stop"`` at ``stop_s``), each once per hold."""

    def __init__(self, recenter_s: float, stop_s: float) -> None:
        if not 0.0 < recenter_s < stop_s:
            raise ValueError("menu hold: recenter_s must be above 0 and below stop_s")
        self.recenter_s, self.stop_s = recenter_s, stop_s
        self.down_at: float | None = None
        self._reached = 0                  # 0 nothing, 1 recentred, 2 stopped

    def press(self, t: float) -> None:
        """The button went down at ``t`` (a repeated press while down is ignored)."""
        if self.down_at is None:
            self.down_at, self._reached = t, 0

    def release(self, t: float) -> None:
        """The button came up at ``t``: the hold is over."""
        self.down_at = None

    def held_s(self, t: float) -> float:
        """Seconds the button has been held at ``t`` (0 when up)."""
        return 0.0 if self.down_at is None else max(0.0, t - self.down_at)

    def update(self, t: float) -> list[str]:
        """The thresholds passed by ``t`` and not reported yet."""
        held = self.held_s(t)
        out = []
        if self.down_at is not None and self._reached < 1 and held >= self.recenter_s:
            self._reached = 1
            out.append("recenter")
        if self.down_at is not None and self._reached < 2 and held >= self.stop_s:
            self._reached = 2
            out.append("stop")
        return out

    def progress(self, t: float) -> float:
        """How far the hold is toward the stop, 0..1."""
        return min(1.0, self.held_s(t) / self.stop_s)


class PatientControls:
    """Turns the patient's menu hold and stop keys into session :class:`Command`s.

    Call :meth:`step` once per frame before the session drains its commands: it takes the
    menu and pause events out of ``inputs`` (the scene never sees them) and puts the
    resulting commands on ``commands``."""

    def __init__(self, safety: SafetySettings, commands: CommandQueue) -> None:
        self.hold = MenuHold(safety.recenter_hold_s, safety.stop_hold_s)
        self.commands = commands
        self.stopped = False

    def step(self, inputs: InputQueue, t: float) -> None:
        """Read this frame's menu / pause events and send what they ask for."""
        for event in inputs.take(PATIENT_ACTIONS, t):
            if event.action == "menu":
                self.hold.press(event.t)
            elif event.action == "menu_release":
                self._reached(event.t)           # thresholds passed before the release
                self.hold.release(event.t)
            elif event.action == "pause":
                self._stop("key")
        self._reached(t)

    def _reached(self, t: float) -> None:
        for action in self.hold.update(t):
            if action == "recenter":
                self.commands.put(Command("recenter", {"source": "menu_hold"}, by="patient"))
            else:
                self._stop("menu_hold")

    def _stop(self, source: str) -> None:
        if not self.stopped:
            self.stopped = True
            self.commands.put(Command("patient_stop", {"source": source}, by="patient"))

    def notice(self, t: float) -> tuple[str, float] | None:
        """What the headset shows while the button is held: (text, progress 0..1 toward
        the stop), or None when nothing is held."""
        hold = self.hold
        if hold.down_at is None or hold.held_s(t) < NOTICE_AFTER * hold.recenter_s:
            return None
        held = hold.held_s(t)
        text = (STOPPING_TEXT if held >= hold.stop_s else
                RECENTRED_TEXT if held >= hold.recenter_s else HOLD_TEXT)
        return _(text), hold.progress(t)
