"""The headset loop: an Engine driven by an OpenXR session, drawn into the headset.

Per frame: poll the runtime's events (state machine) -> xrWaitFrame -> xrBeginFrame ->
xrLocateViews and every pose at this frame's predictedDisplayTime (the core polls the
OpenXRSource at that time) -> ``Engine.frame(render=False)`` -> place the eye cameras ->
``render_frame()`` -> copy the eye textures into the swapchains -> xrEndFrame with the
projection layer. Losing focus holds the engine (``Engine.focus_lost``: the limb holds);
LOSS_PENDING, instance loss or a dead runtime tear the session down and retry, then fall back
to the desktop window (or the headless demo motion) with the same Engine, so the session and
its recording go on. With a ``session`` factory the frames go through a
:class:`vrgmi.session.SessionRunner` (questionnaires, scenes, breaks) instead of the bare
engine; when it ends, the runner asks the runtime to exit, and it is always closed (its
events and summary written) however the run ends.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vrgmi.app import DESKTOP_KEYS, Engine, local_pose_source, timing_report
from vrgmi.core import warmup
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


class XrRunner:
    """Runs one patient session in the headset (see the module docstring)."""

    def __init__(self, settings: Settings, display: Display, out_dir: Path | None = None,
                 say: Callable[[str], None] = lambda _m: None,
                 session: Callable[[Engine], Any] | None = None) -> None:
        """``session``: a factory making the session to run on the engine (a
        :class:`vrgmi.session.SessionRunner`: ``step(t, dt, render)`` and ``close()``);
        None runs the bare engine (free mirror) until the run ends."""
        self.settings, self.display, self.say = settings, display, say
        self.link = XrLink(display)
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
        self._session_started = False
        self.link.source.inputs = self.engine.inputs
        self.recorder = Recorder(Path(out_dir) / "recording.npz") if out_dir else None
        self._recorded_t = self._stepped_t = float("nan")   # the last recorded / stepped frame
        self.stats = XrStats()
        self.runtime_name = self.link.xrs.runtime_name
        self.binding = self.link.binding
        self.t = 0.0                                   # display time of the last frame (s)
        self.fallback: str | None = None
        self.stop_requested = False
        self._recenter = False
        self._main_regions = [dr for dr in display.win.get_display_regions() if dr.is_active()]
        self._show_main(display.mode is DisplayMode.DESKTOP)   # a desktop window mirrors
        if display.mode is DisplayMode.DESKTOP:
            self._bind_keys()

    def _show_main(self, on: bool) -> None:
        for dr in self._main_regions:
            dr.set_active(on)

    def _bind_keys(self) -> None:
        base = self.display.base
        base.accept("escape", self.request_stop)
        base.accept("r", self.request_recenter)
        for key, action in DESKTOP_KEYS.items():
            base.accept(key, lambda a=action: self.engine.inputs.push(
                a, self.t, "keyboard"))

    def request_recenter(self) -> None:
        """Reset "forward" to where the patient looks now (applied at the next frame)."""
        self._recenter = True

    def request_stop(self) -> None:
        """End the session at the next frame (through the runtime's exit sequence)."""
        self.stop_requested = True

    def _advance(self, t: float, dt: float) -> None:
        """The frame's work on the engine: the session's step (its end asks for a stop),
        or the bare engine frame. The session starts at the first frame with focus (the
        runtime's loading frames are not part of it). Rendering is the caller's."""
        if self.session is not None and (self._session_started or not self.engine.focus_lost):
            self._session_started = True
            if not self.session.step(t, dt, render=False):
                self.stop_requested = True
        else:
            self.engine.frame(t, dt, render=False)

    # -- the loop -----------------------------------------------------------------------------
    def run(self, seconds: float | None = None, frames: int | None = None,
            on_frame: Callable[["XrRunner", int], None] | None = None) -> dict:
        """Run until ``seconds`` of display time or ``frames`` headset frames have passed,
        the runtime exits, or a stop is requested; then write the recording. Returns the
        report."""
        t_stop = None
        try:
            while self.link is not None:
                try:
                    done = self._step(on_frame)
                except XrLostError as exc:
                    self._on_lost(str(exc))
                    continue
                over = self._over(seconds, frames, len(self.stats.cpu_ms)) or self.stop_requested
                if over and t_stop is None:
                    t_stop = time.monotonic()
                    self.link.xrs.request_exit()
                if done or (t_stop is not None and time.monotonic() - t_stop > EXIT_GRACE_S):
                    break
            if self.link is None:
                self._run_fallback(seconds, frames)
        finally:
            try:
                if self.link is not None:
                    self.link.close()
                    self.link = None
                self._show_main(True)
                if self.recorder is not None:
                    self.recorder.close()
            finally:
                if self.session is not None:           # events and summary, whatever happened
                    self.session_summary = self.session.close()
        return self.report()

    def _over(self, seconds: float | None, frames: int | None, n: int) -> bool:
        """Whether the run has reached ``seconds`` of display time or ``frames`` frames
        (``n`` run so far)."""
        return ((seconds is not None and self.t >= seconds)
                or (frames is not None and n >= frames))

    def _record(self) -> None:
        """Append the engine's tracking frame to the recording (not while it is held, nor
        on a frame that did not step the core: a clinic day's Start frame)."""
        frame = self.engine.core.frame
        if self.recorder is not None and not self.engine.held and frame.t != self._recorded_t:
            self._recorded_t = frame.t
            self.recorder.append(frame)

    def _step(self, on_frame) -> bool:
        """One pass: events, and a frame while the session runs. True once it has exited."""
        link, engine = self.link, self.engine
        xrs = link.xrs
        happened = xrs.poll_events()
        if xrs.lost:
            raise XrLostError("the OpenXR session is being lost (LOSS_PENDING)")
        if xrs.exiting:
            return True
        if "profile" in happened:
            link.source.update_profiles()
        engine.focus_lost = not xrs.focused
        if not xrs.running:
            time.sleep(0.002)
            return False
        state = xrs.wait_frame()
        t0 = time.perf_counter_ns()
        xrs.begin_frame()
        t = int(state.predicted_display_time)
        if self._recenter and xrs.recenter(t):
            self._recenter = False
            self.engine.core.torso.request_recenter("key")   # the body frame, in the new space
        dt = max(int(state.predicted_display_period), 1) * 1e-9
        layer = None
        self.t = xrs.to_seconds(t)
        self._advance(self.t, dt)
        if state.should_render:
            views, ok = xrs.locate_views(t)
            if ok:
                link.eyes.place(views)
                self.display.base.graphicsEngine.render_frame()
                layer = link.eyes.submit()
        xrs.end_frame(t, layer)
        self.stats.cpu_ms.append((time.perf_counter_ns() - t0) * 1e-6)
        self.stats.predicted_ns.append(t)
        # a held frame, or one that did not step the core (a clinic day's Start), used no pose
        stepped = engine.core.frame.t != self._stepped_t
        self._stepped_t = engine.core.frame.t
        self.stats.located_ns.append(link.source.located_ns if stepped and not engine.held
                                     else t)
        self._record()
        if on_frame is not None:
            on_frame(self, t)
        return False

    def _on_lost(self, why: str) -> None:
        """Tear the link down; reconnect (same Engine, display clock continued) or fall back."""
        self.stats.lost += 1
        self.link.close()
        self.link = None
        self.say(f"vrgmi: headset session lost ({why}); reconnecting")
        for _ in range(RETRIES):
            time.sleep(RETRY_PAUSE_S)
            try:
                link = XrLink(self.display)
            except XrUnavailableError as exc:
                why = str(exc)
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

    def _run_fallback(self, seconds: float | None, frames: int | None) -> None:
        """The rest of the session on the main display, with the desktop (or scripted) hand."""
        engine, display = self.engine, self.display
        engine.focus_lost = False
        self._show_main(True)
        self.relay.source = local_pose_source(self.settings, display)
        rate = self.settings.display.refresh_hz
        n = len(self.stats.cpu_ms)
        desktop = display.mode is DisplayMode.DESKTOP
        if not desktop and seconds is None and frames is None:
            return                                     # headless and open-ended: stop here
        while not self.stop_requested and not self._over(seconds, frames, n):
            self.t += 1.0 / rate
            self._advance(self.t, 1.0 / rate)
            self._record()
            n += 1
            if desktop:
                display.base.taskMgr.step()                # draws the window
                time.sleep(1.0 / rate)

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
           session: Callable[[Engine], Any] | None = None) -> dict:
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
