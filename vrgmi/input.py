"""Discrete patient input (answers, menu, marks) with the time it happened, on the display clock.

Games need *when* the patient answered, not when the code noticed: an OpenXR action's
``lastChangeTime``, a key event's timestamp, or a scripted time, all expressed in seconds on
the same clock as the frames' predicted display times. Response times are then
``event.t - onset`` where ``onset`` is the display time of the first frame showing a stimulus.

Sources push :class:`InputEvent`s into the engine's :class:`InputQueue`; the engine hands the
events that arrived before each frame to the active scene (``SceneFrame.inputs``).
This module is part of the math core: no Panda3D.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

#: semantic actions a scene can receive. ``left``/``right`` answer laterality (thumbstick
#: left/right, either trigger mapped to a side, arrow keys); ``up``/``down`` move a selection;
#: ``select`` confirms; ``back`` cancels; ``mark`` marks the start/end of an imagined movement;
#: ``menu`` / ``menu_release``: the menu button went down / up (holding it recentres, then
#: stops the session: :mod:`vrgmi.patient_controls`); ``pause``: the patient's stop key.
ACTIONS = ("left", "right", "up", "down", "select", "back", "mark", "menu", "menu_release",
           "pause")


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One semantic input: ``action`` at display-clock time ``t`` (s) from ``device``."""

    action: str
    t: float
    device: str = "keyboard"   # "keyboard" | "controller_left" | "controller_right" | "script"

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"input: unknown action {self.action!r} (one of {', '.join(ACTIONS)})")


class InputQueue:
    """Events pushed by sources (any thread-free caller on the frame thread), drained per frame.

    ``drain(t)`` returns, oldest first, the events with ``event.t <= t`` (those that happened
    before the frame's display time); later ones wait for their frame.
    """

    def __init__(self, maxlen: int = 256) -> None:
        self._events: deque[InputEvent] = deque(maxlen=maxlen)

    def push(self, action: str, t: float, device: str = "keyboard") -> None:
        """Queue ``action`` that happened at display-clock time ``t``."""
        self._events.append(InputEvent(action, float(t), device))

    def drain(self, t: float) -> list[InputEvent]:
        """Remove and return the queued events with time <= ``t``, in time order."""
        if not self._events:
            return []
        ready = sorted((e for e in self._events if e.t <= t), key=lambda e: e.t)
        if ready:
            keep = [e for e in self._events if e.t > t]
            self._events.clear()
            self._events.extend(keep)
        return ready

    def take(self, actions: tuple[str, ...], t: float) -> list[InputEvent]:
        """Remove and return, in time order, the queued events of ``actions`` with time
        <= ``t`` (the session's own controls, before the scene sees the rest)."""
        if not self._events:
            return []
        ready = sorted((e for e in self._events if e.action in actions and e.t <= t),
                       key=lambda e: e.t)
        if ready:
            keep = [e for e in self._events if not (e.action in actions and e.t <= t)]
            self._events.clear()
            self._events.extend(keep)
        return ready

    def clear(self) -> None:
        """Forget everything queued (a scene change)."""
        self._events.clear()


class ScriptedInput:
    """Replays ``[(t, action), ...]`` into a queue as the display clock passes each time."""

    def __init__(self, script: list[tuple[float, str]]) -> None:
        self._script = sorted((float(t), a) for t, a in script)
        self._next = 0

    @property
    def done(self) -> bool:
        """True once every scripted event has been pushed."""
        return self._next >= len(self._script)

    @property
    def end_t(self) -> float:
        """The time of the last scripted event (0 for an empty script)."""
        return self._script[-1][0] if self._script else 0.0

    def feed(self, queue: InputQueue, t: float) -> None:
        """Push every scripted event with time <= ``t`` not pushed yet."""
        while self._next < len(self._script) and self._script[self._next][0] <= t:
            at, action = self._script[self._next]
            queue.push(action, at, "script")
            self._next += 1


class AxisToActions:
    """Turns a thumbstick/trackpad axis into discrete actions with hysteresis.

    Pushing past ``press`` (default 0.6) emits ``negative`` / ``positive`` once, stamped with the
    time the runtime says the value changed; the axis must come back inside ``release``
    (default 0.3) before it can fire again.
    """

    def __init__(self, negative: str, positive: str, press: float = 0.6,
                 release: float = 0.3) -> None:
        self.negative, self.positive = negative, positive
        self.press, self.release = press, release
        self._armed = True

    def update(self, value: float, t: float, queue: InputQueue, device: str) -> None:
        """Feed this frame's axis ``value`` (changed at ``t``); may push one action."""
        if value != value:          # NaN from a glitching runtime: ignore
            return
        if self._armed and abs(value) >= self.press:
            queue.push(self.positive if value > 0 else self.negative, t, device)
            self._armed = False
        elif not self._armed and abs(value) <= self.release:
            self._armed = True


class ButtonToAction:
    """Emits ``action`` once on each press (value crossing ``press``) of a button or trigger,
    and ``release_action`` (when given) once when it is let go (a hold's end)."""

    def __init__(self, action: str, press: float = 0.7, release: float = 0.3,
                 release_action: str | None = None) -> None:
        self.action, self.press, self.release = action, press, release
        self.release_action = release_action
        self._down = False

    def update(self, value: float, t: float, queue: InputQueue, device: str) -> None:
        """Feed this frame's value (changed at ``t``); may push one action."""
        if value != value:
            return
        if not self._down and value >= self.press:
            queue.push(self.action, t, device)
            self._down = True
        elif self._down and value <= self.release:
            self._down = False
            if self.release_action is not None:
                queue.push(self.release_action, t, device)
