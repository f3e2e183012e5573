"""The frame loop: the one loop that drives the engine, in every mode.

Each frame: the :class:`~vrgmi.frame_source.FrameSource` gives the frame's predicted display
time (the headset's ``xrWaitFrame``, the window's clock, the frame count), feeds the scripted
input, then the loop advances the session (a :class:`FrameTarget`: the clinic day, a
:class:`~vrgmi.session.SessionRunner`) or, without one, the bare :class:`~vrgmi.app.Engine`,
and the source presents the frame. The loop records the tracking frame, counts frames, ends
the run (the session's end, ``seconds`` of display time, ``frames`` frames, :meth:`stop`),
and when a source ends by itself goes on with its successor (a lost headset's fallback)
with the same engine, session and recording.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from vrgmi.frame_source import FrameSource, FrameTime

if TYPE_CHECKING:
    from vrgmi.app import Engine
    from vrgmi.tracking.record import Recorder


class FrameTarget(Protocol):
    """What the loop advances each frame instead of the bare engine: a session
    (:class:`~vrgmi.session.SessionRunner`) or a day of sessions
    (:class:`~vrgmi.clinic.ClinicDay`). ``step`` runs one frame on the engine, False once it
    has ended; ``close`` (the mode's, after the loop) ends it and returns its summary."""

    def step(self, t: float, dt: float, render: bool = True) -> bool:
        """One frame at display time ``t``; False once it has ended."""
        ...

    def close(self) -> dict[str, Any]:
        """End it (events, records) and return its summary."""
        ...


#: called after every presented frame with the loop and the frame's timing
OnFrame = Callable[["FrameLoop", FrameTime], None]


class FrameLoop:
    """Drives ``engine`` (through ``session`` when given) from ``source`` until the session
    ends, ``seconds`` of display time or ``frames`` frames have passed, or :meth:`stop`.

    A session starts at the first frame with focus (a headset's loading frames are not part
    of it); until then the bare engine runs. ``recorder`` gets every tracking frame the core
    stepped (not while held). ``on_frame(loop, frame)`` runs after each presented frame;
    :attr:`alive` says whether the session went on in it."""

    def __init__(self, source: FrameSource, engine: Engine, session: FrameTarget | None = None,
                 *, seconds: float | None = None, frames: int | None = None,
                 recorder: Recorder | None = None, on_frame: OnFrame | None = None) -> None:
        self.source, self.engine, self.session = source, engine, session
        self.seconds, self.max_frames = seconds, frames
        self.recorder, self.on_frame = recorder, on_frame
        #: frames presented so far, the last one's display time (s), whether the session
        #: went on in it, and whether the run is ending
        self.frames = 0
        self.t = 0.0
        self.alive = True
        self.stopping = False
        self._started = False
        self._recorded_t = math.nan

    def stop(self) -> None:
        """End the run: the source ends (a headset through its exit sequence)."""
        if not self.stopping:
            self.stopping = True
            self.source.end()

    def run(self) -> FrameLoop:
        """Run the frames (see the class docstring); returns the loop."""
        while True:
            source = self.source
            try:
                frame = source.next_frame()
                if frame is None:
                    successor = None if self.stopping else source.successor()
                    if successor is None:
                        return self
                    self.source = successor
                    continue
                source.poll_input(frame.t)
                alive = self._advance(frame, source.draws())
                source.present()
            except source.lost_errors as exc:
                source.lost(exc)
                continue
            self.frames += 1
            self.t, self.alive = frame.t, alive
            self._record()
            if self.on_frame is not None:
                self.on_frame(self, frame)
            if not alive or (self.seconds is not None and frame.t >= self.seconds) or (
                    self.max_frames is not None and self.frames >= self.max_frames):
                self.stop()

    def _advance(self, frame: FrameTime, render: bool) -> bool:
        """The frame's work: the session's step (it starts at the first frame with focus),
        else the bare engine's frame. False once the session has ended."""
        engine, session = self.engine, self.session
        if session is not None and (self._started or not engine.focus_lost):
            self._started = True
            return session.step(frame.t, frame.dt, render)
        engine.frame(frame.t, frame.dt, render)
        return True

    def _record(self) -> None:
        """Append the engine's tracking frame to the recording (not while it is held, nor
        on a frame that did not step the core: a clinic day's Start frame)."""
        frame = self.engine.core.frame
        if self.recorder is not None and not self.engine.held and frame.t != self._recorded_t:
            self._recorded_t = frame.t
            self.recorder.append(frame)


def run_frames(source: FrameSource, engine: Engine, session: FrameTarget | None = None,
               *, seconds: float | None = None, frames: int | None = None,
               recorder: Recorder | None = None, on_frame: OnFrame | None = None) -> FrameLoop:
    """Run :class:`FrameLoop` over ``source`` to its end; returns the finished loop."""
    return FrameLoop(source, engine, session, seconds=seconds, frames=frames,
                     recorder=recorder, on_frame=on_frame).run()
