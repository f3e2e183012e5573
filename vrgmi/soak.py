"""Soak measurements for `vrgmi bench`: does anything grow with the number of frames?

Two paths run a few thousand frames each: the **session** path (a laterality session of the
GMI program: ``SessionRunner.step`` with a demo patient answering, the event log on disk,
the frame not drawn) and the **render** path (``Engine.frame`` drawn offscreen every frame).
After a warm-up, the resident set size is sampled and fitted with a line; its slope is
reported per hour of frames at the display rate. Also reported: Panda3D's cached transform
and render states, open files and threads, each at the end minus after the warm-up. The one
buffer allowed to grow is the session's event history (``EventBus.history``, a few events a
second: trials and questionnaire answers), whose size is reported beside the slope.
"""
from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vrgmi.frame_loop import FrameLoop, run_frames
from vrgmi.frame_source import OffscreenFrames

#: share of the frames run before measuring starts (kernels, caches, first allocations) ...
WARMUP_SHARE = 0.3
#: ... and at least this many (a software renderer's caches fill over the first ~300 frames)
WARMUP_MIN = 300
#: RSS samples per run
SAMPLES = 40


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def open_files() -> int:
    """File descriptors open in this process."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return -1


def os_threads() -> int:
    """Threads of this process (Python's and native ones, e.g. the GL driver's)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _panda_states() -> int:
    from panda3d.core import RenderState, TransformState
    return TransformState.get_num_states() + RenderState.get_num_states()


class _Meter:
    """Samples RSS per frame index after the warm-up; counts at the warm-up and the end."""

    def __init__(self, frames: int) -> None:
        self.frames = frames
        self.start = max(1, int(frames * WARMUP_SHARE), min(WARMUP_MIN, frames // 2))
        self.every = max(1, (frames - self.start) // SAMPLES)
        self.x: list[int] = []
        self.y: list[int] = []
        self.base: dict[str, int] = {}

    def counts(self) -> dict[str, int]:
        return {"files": open_files(), "threads": os_threads(), "states": _panda_states()}

    def tick(self, i: int) -> None:
        if i == self.start:
            self.base = self.counts()
        if i >= self.start and (i - self.start) % self.every == 0:
            self.x.append(i)
            self.y.append(rss_bytes())

    def result(self, prefix: str, frames_run: int, rate_hz: float) -> dict[str, float]:
        end = self.counts()
        base = self.base or end
        slope = float(np.polyfit(self.x, self.y, 1)[0]) if len(self.x) >= 3 else 0.0
        return {f"{prefix}_frames": frames_run,
                f"{prefix}_rss_mib": round(rss_bytes() / 2 ** 20, 1),
                f"{prefix}_rss_mib_per_hour": round(slope * rate_hz * 3600.0 / 2 ** 20, 1),
                f"{prefix}_open_files_growth": end["files"] - base["files"],
                f"{prefix}_threads_growth": end["threads"] - base["threads"],
                f"{prefix}_panda_states_growth": end["states"] - base["states"]}


def soak_session(frames: int = 3000, rate_hz: float = 90.0,
                 display: Any = None) -> dict[str, Any]:
    """The session path without drawing: a laterality session answered by the demo patient,
    events to a JSONL log in a temporary folder (on ``display``, else a small offscreen one
    opened and closed here)."""
    from vrgmi.app import Engine, scripted_source
    from vrgmi.clinic import AutoPatient, demo_program
    from vrgmi.core import warmup
    from vrgmi.render.display import open_display
    from vrgmi.session import SessionRunner
    from vrgmi.settings import load_settings

    warmup()
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial",
                                        "display.refresh_hz": rate_hz, "ui.instructions": False,
                                        "ui.speak_instructions": False,
                                        "safety.ssq_baseline": False})
    block_min = min(frames / rate_hz / 60.0 + 1.0, 10.0)
    owned = display is None
    display = open_display("headless", size=(160, 120)) if owned else display
    meter = _Meter(frames)
    i = 0
    try:
        with tempfile.TemporaryDirectory(prefix="vrgmi-soak-") as tmp:
            engine = Engine(settings, scripted_source(settings), display)
            runner = SessionRunner(engine, demo_program("soak", "arm", "laterality", block_min),
                                   Path(tmp), seed=1)
            auto = AutoPatient()

            def after(loop: FrameLoop, _frame: object) -> None:
                nonlocal i
                i = loop.frames - 1
                if loop.alive:
                    meter.tick(i)

            try:
                run_frames(OffscreenFrames(rate_hz, max_frames=frames,
                                           feeders=[lambda t: auto.feed(runner, t)]),
                           engine, runner, on_frame=after)
                events = len(runner.events.history)
            finally:
                runner.events.close()
                engine.close()
    finally:
        if owned:
            display.close()
    out = meter.result("soak_session", i + 1, rate_hz)
    out["soak_session_events_kept"] = events
    return out


def soak_render(frames: int = 2000, rate_hz: float = 90.0,
                size: tuple[int, int] | None = None) -> dict[str, Any]:
    """The render path: the free-mirror engine frame, drawn offscreen every frame at
    ``size`` (default: the settings' display size, 1280 x 720; memory a draw holds scales
    with it: on Mesa's software renderer a 160 x 120 buffer hides what 1280 x 720 shows)."""
    from vrgmi.app import Engine, scripted_source
    from vrgmi.core import warmup
    from vrgmi.render.display import open_display
    from vrgmi.settings import load_settings

    warmup()
    settings = load_settings(overrides={"patient.amputation_side": "left",
                                        "patient.amputation_level": "transradial",
                                        "display.refresh_hz": rate_hz})
    display = open_display("headless", size=size or (settings.display.width,
                                                     settings.display.height))
    meter = _Meter(frames)
    try:
        engine = Engine(settings, scripted_source(settings), display)
        run_frames(OffscreenFrames(rate_hz, max_frames=frames, draw=True), engine,
                   on_frame=lambda loop, _frame: meter.tick(loop.frames - 1))
        out = meter.result("soak_render", frames, rate_hz)
        engine.close()
    finally:
        display.close()
    return out


def run_soak(quick: bool = False,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Both soak runs (``quick``: shorter)."""
    say = progress or (lambda _m: None)
    frames = 1500 if quick else 4000
    say(f"bench: soak, session path ({frames} frames, not drawn)...")
    results = soak_session(frames)
    say(f"bench: soak, render path ({frames // 2} frames, drawn offscreen at 1280 x 720)...")
    results.update(soak_render(frames // 2))
    return results
