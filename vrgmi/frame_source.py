"""Where frames come from: one small interface, one implementation per mode.

A :class:`FrameSource` says when the next frame is and what its predicted display time is,
feeds the patient's input for it, and presents it; :func:`vrgmi.frame_loop.run_frames` drives
the engine from any of them, so every mode runs the same loop (as moderngl-window swaps its
window backends under one render loop). The implementations:

- :class:`OffscreenFrames`: headless, the clock from the frame count (as fast as the machine
  goes, or paced in real time); the demos, the headless sessions, the soak runs;
- :class:`WindowFrames`: the desktop window, the clock from the wall clock; its keys;
- :class:`BenchmarkFrames`: display times from a replay, each frame's engine work timed, the
  frames it is told to draw drawn and timed (``vrgmi bench``: every n-th; the companion
  bench: the live view's captures), optionally paced at the display rate;
- :class:`FallbackFrames`: the rest of a headset session after the headset is lost, the
  display clock continued at the display rate, in the desktop window or headless;
- the headset itself (OpenXR ``xrWaitFrame`` / ``xrBeginFrame`` / ``xrEndFrame``) is
  :class:`vrgmi.xr_app.XrRunner`.

This module does not import Panda3D; the sources that draw use the display they are given.
"""
from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:
    from vrgmi.input import InputQueue
    from vrgmi.render.display import Display

#: something that pushes the patient's scripted input for display time ``t`` (s)
Feeder = Callable[[float], None]


@dataclass(frozen=True)
class FrameTime:
    """One frame's timing: ``t`` its predicted display time (s), ``dt`` the time since the
    last frame (s)."""

    t: float
    dt: float


class FrameSource(ABC):
    """Where a mode's frames come from (see the module docstring).

    The loop asks :meth:`next_frame` (None: the source has ended), calls :meth:`poll_input`,
    advances the engine (drawing it in the frame when :meth:`draws` says so), then
    :meth:`present`; :meth:`end` asks the source to end (at once, or through its own exit
    sequence), :meth:`successor` names the source that goes on when this one ended by itself
    (e.g. after a lost headset), :meth:`close` releases it. An exception of a type in
    ``lost_errors`` anywhere in a frame is given to :meth:`lost` and the frame is dropped.
    """

    name: ClassVar[str] = ""
    lost_errors: ClassVar[tuple[type[BaseException], ...]] = ()

    def __init__(self, feeders: Iterable[Feeder] = ()) -> None:
        self.feeders: list[Feeder] = list(feeders)
        self.ended = False

    @abstractmethod
    def next_frame(self) -> FrameTime | None:
        """Wait for the next frame; its timing, or None once the source has ended."""

    def poll_input(self, t: float) -> None:
        """Push the patient's scripted input up to display time ``t`` (the feeders)."""
        for feed in self.feeders:
            feed(t)

    def draws(self) -> bool:
        """Whether the engine draws this frame itself (timed in its ``render`` stage)."""
        return False

    def present(self) -> None:
        """Show the frame (a window's draw, the headset's eyes and xrEndFrame)."""

    def end(self) -> None:
        """End the source: :meth:`next_frame` returns None from now on."""
        self.ended = True

    def successor(self) -> FrameSource | None:
        """The source that goes on after this one ended by itself (None: the run ends)."""
        return None

    def lost(self, exc: BaseException) -> None:
        """A frame failed with one of :attr:`lost_errors` (reconnect, or end)."""
        raise exc

    def close(self) -> None:
        """Release what the source holds."""


class FixedRateFrames(FrameSource):
    """Frames at ``rate_hz`` on a display clock that starts at ``start_t`` and advances one
    period a frame, at most ``max_frames`` of them; ``realtime`` paces them on the wall
    clock (otherwise they come as fast as the machine goes)."""

    def __init__(self, rate_hz: float, start_t: float = 0.0, max_frames: int | None = None,
                 realtime: bool = False, feeders: Iterable[Feeder] = ()) -> None:
        super().__init__(feeders)
        self.period = 1.0 / rate_hz
        self.start_t = start_t
        self.max_frames = max_frames
        self.realtime = realtime
        self.index = 0
        self._started = time.perf_counter()

    def next_frame(self) -> FrameTime | None:
        if self.ended or (self.max_frames is not None and self.index >= self.max_frames):
            return None
        elapsed = self.index * self.period
        self.index += 1
        if self.realtime and (ahead := self._started + elapsed - time.perf_counter()) > 0:
            time.sleep(ahead)
        return FrameTime(self.start_t + elapsed, self.period)


class OffscreenFrames(FixedRateFrames):
    """Headless: the display clock from the frame count; ``draw`` draws every frame in the
    engine's frame (offscreen), else nothing is drawn but screenshots."""

    name = "offscreen"

    def __init__(self, rate_hz: float, max_frames: int | None = None, draw: bool = False,
                 realtime: bool = False, feeders: Iterable[Feeder] = ()) -> None:
        super().__init__(rate_hz, 0.0, max_frames, realtime, feeders)
        self.draw = draw

    def draws(self) -> bool:
        return self.draw


class FallbackFrames(FixedRateFrames):
    """The rest of a headset session after the headset is gone: the display clock goes on
    from ``start_t`` at the display rate; in a desktop window (``window``) each frame is
    drawn there and paced at the rate, headless they come as fast as the machine goes."""

    name = "fallback"

    def __init__(self, display: Display, rate_hz: float, start_t: float,
                 window: bool) -> None:
        super().__init__(rate_hz, start_t + 1.0 / rate_hz)
        self.display, self.window = display, window

    def present(self) -> None:
        if self.window:
            self.display.base.taskMgr.step()          # the window's events and its draw
            time.sleep(self.period)


class WindowFrames(FrameSource):
    """The desktop window: the display clock is the wall clock since the first frame, each
    frame is presented by one step of Panda3D's task manager (the window's events, the
    keys, the draw)."""

    name = "window"

    def __init__(self, display: Display, feeders: Iterable[Feeder] = ()) -> None:
        super().__init__(feeders)
        self.display = display
        self._start = self._last = time.perf_counter()

    @property
    def t(self) -> float:
        """The display clock now (s)."""
        return time.perf_counter() - self._start

    def next_frame(self) -> FrameTime | None:
        if self.ended:
            return None
        now = time.perf_counter()
        dt, self._last = max(now - self._last, 1e-4), now
        return FrameTime(now - self._start, dt)

    def present(self) -> None:
        self.display.base.taskMgr.step()


class BenchmarkFrames(FrameSource):
    """Display times from ``times`` (a replay's) at period ``dt``; the work in each frame
    is timed (``frame_ms``: from this source handing the frame out to its present), and a
    frame for which ``draw(index)`` is True is drawn after it and timed (``draw_ms``).
    ``paced`` holds the frames to the period on the wall clock (a late frame restarts the
    pace)."""

    name = "benchmark"

    def __init__(self, display: Display, times: Sequence[float], dt: float,
                 draw: Callable[[int], bool], paced: bool = False) -> None:
        super().__init__()
        self.display, self.times, self.dt = display, times, dt
        self.draw, self.paced = draw, paced
        self.frame_ms = np.empty(len(times))
        self.draw_ms: list[float] = []
        self.index = -1
        self._t0 = 0
        self._deadline = time.perf_counter()

    def next_frame(self) -> FrameTime | None:
        if self.ended or self.index + 1 >= len(self.times):
            return None
        self.index += 1
        t = float(self.times[self.index])
        self._t0 = time.perf_counter_ns()
        return FrameTime(t, self.dt)

    def present(self) -> None:
        t1 = time.perf_counter_ns()
        self.frame_ms[self.index] = (t1 - self._t0) * 1e-6
        if self.draw(self.index):
            self.display.base.graphicsEngine.render_frame()
            self.draw_ms.append((time.perf_counter_ns() - t1) * 1e-6)
        if self.paced:
            self._deadline += self.dt
            pause = self._deadline - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            else:
                self._deadline = time.perf_counter()


def bind_desktop_keys(display: Display, inputs: InputQueue, clock: Callable[[], float],
                      keys: dict[str, str], on_escape: Callable[[], None],
                      on_recenter: Callable[[], None]) -> Callable[[], None]:
    """Bind the desktop window's keys: ``keys`` (key -> patient input action, pushed at
    ``clock()`` on the display clock), Escape and R. Returns what unbinds them."""
    base = display.base
    base.accept("escape", on_escape)
    base.accept("r", on_recenter)
    for key, action in keys.items():
        base.accept(key, lambda a=action: inputs.push(a, clock(), "keyboard"))

    def unbind() -> None:
        for key in (*keys, "escape", "r"):
            base.ignore(key)
    return unbind
