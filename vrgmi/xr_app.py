"""The headset mode: an Engine in an OpenXR session, drawn into the headset.

:class:`XrRunner` is the headset's :class:`~vrgmi.frame_source.FrameSource`, run by the one
frame loop (:mod:`vrgmi.frame_loop`). Per frame: poll the runtime's events (state machine) ->
xrWaitFrame -> xrBeginFrame (:meth:`XrRunner.next_frame`: the predicted display time) -> the
session's step, ``Engine.frame(render=False)``, whose core polls the OpenXRSource at that
time -> xrLocateViews, place the eye cameras, ``render_frame()``, copy the eye textures into
the swapchains, xrEndFrame with the projection layer (:meth:`XrRunner.present`). Losing
focus holds the engine (``Engine.focus_lost``: the limb holds); LOSS_PENDING, instance loss
or a dead runtime tear the session down and retry (:meth:`XrRunner.lost`), then the loop
goes on with the fallback (:meth:`XrRunner.successor`: the desktop window, or the headless
demo motion) with the same Engine, so the session and its recording go on. With a
``session`` factory the frames go through a clinic day or a
:class:`vrgmi.session.SessionRunner` (questionnaires, scenes, breaks) instead of the bare
engine; when it ends, the loop asks the runtime to exit, and it is always closed (its
events and summary written) however the run ends.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
import numpy as np

from vrgmi.app import DESKTOP_KEYS, Engine, local_pose_source, timing_report
from vrgmi.core import warmup
from vrgmi.frame_loop import FrameLoop, FrameTarget
from vrgmi.frame_source import FallbackFrames, FrameSource, FrameTime, bind_desktop_keys
from vrgmi.render.display import Display, DisplayMode, has_desktop_display, open_display
from vrgmi.settings import Settings
from vrgmi.tracking.frame import PoseSource
from vrgmi.tracking.openxr import XrLostError, XrSession, XrUnavailableError, offered_extensions
from vrgmi.tracking.record import Recorder

#: reconnection attempts after a lost session, and the pause between them (s)
RETRIES, RETRY_PAUSE_S = 3, 0.5
#: how long the runtime gets to walk STOPPING -> IDLE -> EXITING after an exit request (s)
EXIT_GRACE_S = 3.0


@dataclass
class XrStats:
    """What the loop measured: per-frame CPU time (xrWaitFrame return -> xrEndFrame return),
    and for each frame the predicted display time and the time the poses were located at."""

    cpu_ms: list[float] = field(default_factory=list)
    predicted_ns: list[int] = field(default_factory=list)
    located_ns: list[int] = field(default_factory=list)
    lost: int = 0
    reconnects: int = 0

    def summary(self) -> dict:
        """Median / p99 CPU ms and the added latency in frames (0 when every pose was
        located at its own frame's predicted display time)."""
        ms = np.asarray(self.cpu_ms) if self.cpu_ms else np.zeros(1)
        lag = [p - k for p, k in zip(self.predicted_ns, self.located_ns)]
        return {"frames": len(self.cpu_ms), "cpu_ms_median": round(float(np.median(ms)), 4),
                "cpu_ms_p99": round(float(np.percentile(ms, 99)), 4),
                "pose_time_mismatch_ns": int(max((abs(v) for v in lag), default=0)),
                "lost": self.lost, "reconnects": self.reconnects}


class XrLink:
    """One connection to the runtime: session, pose source and eye swapchains."""

    def __init__(self, display: Display) -> None:
        from vrgmi.render.xr_binding import GL, binding_name, opengl_binding
        from vrgmi.render.xr_display import XrEyes
        from vrgmi.tracking.xr_input import OpenXRSource

        kind = "egl" if display.mode is DisplayMode.HEADLESS and sys.platform.startswith(
            "linux") else "opengl"
        if display.mode is DisplayMode.SOFTWARE:
            raise XrUnavailableError("the headset needs OpenGL, and only the software "
                                     "renderer is working here")
        self.xrs = XrSession(kind)
        self.source = self.eyes = None
        self.binding = ""                              # "EGL", "GLX" or "WGL" once created
        try:
            (lo, _hi) = self.xrs.opengl_requirements()
            gsg = display.win.get_gsg()
            have = (gsg.get_driver_version_major(), gsg.get_driver_version_minor())
            if have < lo:
                raise XrUnavailableError(f"the OpenXR runtime needs OpenGL {lo[0]}.{lo[1]}, "
                                         f"this machine has {have[0]}.{have[1]}")
            display.base.graphicsEngine.render_frame()        # the context is current now
            binding = opengl_binding(kind)
            self.binding = binding_name(binding)
            self.xrs.create(binding)
            self.source = OpenXRSource(self.xrs)
            self.eyes = XrEyes(self.xrs, display, GL(kind))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Tear everything down (safe on a dead runtime)."""
        if self.eyes is not None:
            self.eyes.close()
        if self.source is not None:
            self.source.close()
        self.xrs.destroy()
        self.eyes = self.source = None


class _Relay(PoseSource):
    """The Engine's pose source: forwards to the current one (the link's OpenXRSource,
    a reconnected one, or the fallback), so the Engine and its state outlive a link."""

    name = "openxr"

    def __init__(self, source: PoseSource) -> None:
        self.source = source

    def poll(self, display_time, frame) -> bool:
        return self.source.poll(display_time, frame)

    def haptic_pulse(self, side: int, seconds: float, amplitude: float) -> bool:
        return self.source.haptic_pulse(side, seconds, amplitude)


class XrRunner(FrameSource):
    """The headset's frames for one patient session (see the module docstring): the
    :class:`~vrgmi.frame_source.FrameSource` the frame loop runs in the headset. Its
    :meth:`successor` after a lost headset is the fallback (:class:`FallbackFrames`)."""

    name = "headset"
    lost_errors = (XrLostError,)

    def __init__(self, settings: Settings, display: Display, out_dir: Path | None = None,
                 say: Callable[[str], None] = lambda _m: None,
                 session: Callable[[Engine], FrameTarget] | None = None) -> None:
        """``session``: a factory making the session to run on the engine (a
        :class:`~vrgmi.frame_loop.FrameTarget`: a clinic day or a
        :class:`vrgmi.session.SessionRunner`, with ``close()``); None runs the bare engine
        (free mirror) until the run ends."""
        super().__init__()
        self.settings, self.display, self.say = settings, display, say
        self.link: XrLink | None = XrLink(display)
        self.relay = _Relay(self.link.source)
        self.engine = self.session = None
        try:
            self.engine = Engine(settings, self.relay, display)
            self.session = session(self.engine) if session is not None else None
        except BaseException:
            if self.engine is not None:
                self.engine.close()
            self.link.close()
            raise
        self.session_summary: dict | None = None
        self.link.source.inputs = self.engine.inputs
        self.recorder = Recorder(Path(out_dir) / "recording.npz") if out_dir else None
        self._stepped_t = float("nan")                 # the last frame that stepped the core
        self.stats = XrStats()
        self.runtime_name = self.link.xrs.runtime_name
        self.binding = self.link.binding
        self.t = 0.0                                   # display time of the last frame (s)
        self.fallback: str | None = None
        self.loop: FrameLoop | None = None
        self._recenter = False
        self._t_stop: float | None = None              # when the exit was requested
        self._frame_ns = self._t0 = 0                  # this frame's predicted time, CPU start
        self._should_render = False
        self._main_regions = [dr for dr in display.win.get_display_regions() if dr.is_active()]
        self._show_main(display.mode is DisplayMode.DESKTOP)   # a desktop window mirrors
        if display.mode is DisplayMode.DESKTOP:
            bind_desktop_keys(display, self.engine.inputs,
                              lambda: self.loop.t if self.loop is not None else self.t,
                              DESKTOP_KEYS, self.request_stop, self.request_recenter)

    def _show_main(self, on: bool) -> None:
        for dr in self._main_regions:
            dr.set_active(on)

    def request_recenter(self) -> None:
        """Reset "forward" to where the patient looks now (applied at the next frame)."""
        self._recenter = True

    def request_stop(self) -> None:
        """End the session at the next frame (through the runtime's exit sequence)."""
        if self.loop is not None:
            self.loop.stop()
        else:
            self.end()

    # -- the headset's frames (FrameSource) ------------------------------------------------
    def run(self, seconds: float | None = None, frames: int | None = None,
            on_frame: Callable[["XrRunner", int], None] | None = None) -> dict:
        """Run the frame loop until ``seconds`` of display time or ``frames`` frames have
        passed, the runtime exits, or a stop is requested (on the fallback after a lost
        headset if need be); then write the recording. ``on_frame(runner, predicted_ns)``
        runs after each headset frame. Returns the report."""
        def after(loop: FrameLoop, _frame: object) -> None:
            if loop.source is self and on_frame is not None:
                on_frame(self, self._frame_ns)

        self.loop = FrameLoop(self, self.engine, self.session, seconds=seconds,
                              frames=frames, recorder=self.recorder, on_frame=after)
        try:
            self.loop.run()
        finally:
            try:
                self.close()
                if self.recorder is not None:
                    self.recorder.close()
            finally:
                if self.session is not None:           # events and summary, whatever happened
                    self.session_summary = self.session.close()
        return self.report()

    def next_frame(self) -> FrameTime | None:
        """Poll the runtime's events (its state machine), then xrWaitFrame and xrBeginFrame:
        the frame's predicted display time. None once the runtime has exited (or the exit
        sequence ran past :data:`EXIT_GRACE_S`), or the headset is gone for good."""
        while self.link is not None:
            if self._t_stop is not None and time.monotonic() - self._t_stop > EXIT_GRACE_S:
                return None
            xrs = self.link.xrs
            happened = xrs.poll_events()
            if xrs.lost:
                raise XrLostError("the OpenXR session is being lost (LOSS_PENDING)")
            if xrs.exiting:
                return None
            if "profile" in happened:
                self.link.source.update_profiles()
            self.engine.focus_lost = not xrs.focused
            if not xrs.running:
                time.sleep(0.002)
                continue
            state = xrs.wait_frame()
            self._t0 = time.perf_counter_ns()
            xrs.begin_frame()
            t = self._frame_ns = int(state.predicted_display_time)
            self._should_render = state.should_render
            if self._recenter and xrs.recenter(t):
                self._recenter = False
                self.engine.core.torso.request_recenter("key")   # the body frame, in the new space
            self.t = xrs.to_seconds(t)
            return FrameTime(self.t, max(int(state.predicted_display_period), 1) * 1e-9)
        return None

    def present(self) -> None:
        """Place the eyes at the frame's views, draw them into the swapchains, xrEndFrame;
        then the frame's CPU time and the time its poses were located at."""
        link, engine, t = self.link, self.engine, self._frame_ns
        xrs = link.xrs
        layer = None
        if self._should_render:
            views, ok = xrs.locate_views(t)
            if ok:
                link.eyes.place(views)
                self.display.base.graphicsEngine.render_frame()
                layer = link.eyes.submit()
        xrs.end_frame(t, layer)
        self.stats.cpu_ms.append((time.perf_counter_ns() - self._t0) * 1e-6)
        self.stats.predicted_ns.append(t)
        # a held frame, or one that did not step the core (a clinic day's Start), used no pose
        stepped = engine.core.frame.t != self._stepped_t
        self._stepped_t = engine.core.frame.t
        self.stats.located_ns.append(link.source.located_ns if stepped and not engine.held
                                     else t)

    def end(self) -> None:
        """Ask the runtime to end the session (it walks STOPPING -> IDLE -> EXITING)."""
        if self._t_stop is None and self.link is not None:
            self._t_stop = time.monotonic()
            self.link.xrs.request_exit()

    def lost(self, exc: BaseException) -> None:
        """Tear the link down; reconnect (same Engine, display clock continued), else
        :meth:`next_frame` ends and :meth:`successor` is the fallback."""
        why = str(exc)
        self.stats.lost += 1
        self.link.close()
        self.link = None
        self.say(f"vrgmi: headset session lost ({why}); reconnecting")
        for _ in range(RETRIES):
            time.sleep(RETRY_PAUSE_S)
            try:
                link = XrLink(self.display)
            except XrUnavailableError as err:
                why = str(err)
                continue
            self.link = link
            self.stats.reconnects += 1
            link.xrs.clock_offset = self.t + 1.0 / self.settings.display.refresh_hz
            link.source.inputs = self.engine.inputs
            self.relay.source = link.source
            return
        self.fallback = why
        where = "in the desktop window" if self.display.mode is DisplayMode.DESKTOP \
            else "headless"
        self.say(f"vrgmi: the headset is gone ({why}); the session goes on {where}")

    def successor(self) -> FrameSource | None:
        """After a lost headset: the rest of the session on the main display with the
        desktop (or scripted) hand; a headless run with no end in sight stops here."""
        if self.fallback is None:
            return None
        desktop = self.display.mode is DisplayMode.DESKTOP
        loop = self.loop
        if not desktop and loop is not None and loop.seconds is None \
                and loop.max_frames is None:
            return None
        self.engine.focus_lost = False
        self._show_main(True)
        self.relay.source = local_pose_source(self.settings, self.display)
        return FallbackFrames(self.display, self.settings.display.refresh_hz, self.t, desktop)

    def close(self) -> None:
        """Close the link to the runtime (if any) and show the main window again."""
        if self.link is not None:
            self.link.close()
            self.link = None
        self._show_main(True)

    def report(self) -> dict:
        """What happened: frames, runtime, graphics binding ("EGL", "GLX" or "WGL"),
        fallback, XR timing, engine timing, and the session's summary (None without a
        session)."""
        return {"runtime": self.runtime_name, "binding": self.binding,
                "fallback": self.fallback, "display": self.display.mode.value,
                "xr": self.stats.summary(),
                "recording": str(self.recorder.path) if self.recorder else None,
                "timing_ms": timing_report(self.engine), "session": self.session_summary}


def run_xr(settings: Settings, progress: Callable[[str], None] | None = None,
           seconds: float | None = None, frames: int | None = None,
           out_dir: Path | None = None,
           on_frame: Callable[[XrRunner, int], None] | None = None,
           session: Callable[[Engine], FrameTarget] | None = None) -> dict:
    """A session in the headset (``session``: see :class:`XrRunner`). Raises
    XrUnavailableError (one line, before any window opens) when no runtime answers; the
    caller then falls back to the desktop or headless."""
    say = progress or (lambda _m: None)
    offered_extensions()                                   # no runtime: fail before a window
    warmup(progress)
    mode = "desktop" if settings.display.mode != "headless" and has_desktop_display() \
        else "headless"
    display = open_display(mode, size=(settings.display.width, settings.display.height))
    try:
        runner = XrRunner(settings, display, out_dir, say, session)
        say(f"vrgmi: headset session on '{runner.runtime_name}' "
            f"({runner.link.xrs.system_name}), {runner.binding} binding, "
            f"{display.mode.value} mirror")
        try:
            return runner.run(seconds, frames, on_frame)
        finally:
            runner.engine.close()
    finally:
        display.close()


def format_xr_report(report: dict) -> str:
    """The headset session's report as a few readable lines."""
    xr = report["xr"]
    lines = [f"headset session on '{report['runtime']}' ({report['binding']} binding): "
             f"{xr['frames']} frames, XR frame CPU median {xr['cpu_ms_median']:.3f} ms, "
             f"p99 {xr['cpu_ms_p99']:.3f} ms"]
    if report["fallback"]:
        lines.append(f"the headset was lost ({report['fallback']}); the session went on "
                     f"{report['display']}")
    if report["recording"]:
        lines.append(f"wrote {report['recording']}")
    return "\n".join(lines)
