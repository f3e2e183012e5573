"""One frame loop for every mode: each frame source, driven by the same
:func:`vrgmi.frame_loop.run_frames`, gives the engine its frames at the right display times,
and no other module of the package loops over engine frames or session steps."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import vrgmi
from vrgmi.app import Engine, scripted_source
from vrgmi.clinic import AutoPatient
from vrgmi.frame_loop import FrameLoop, run_frames
from vrgmi.frame_source import (BenchmarkFrames, FallbackFrames, FrameSource,
                                OffscreenFrames, WindowFrames)
from vrgmi.program import Program, SceneStep
from vrgmi.session import SessionRunner
from vrgmi.settings import load_settings
from vrgmi.tracking.record import Recorder
from vrgmi.tracking.replay import load_replay
from vrgmi.xr_app import XrRunner

RATE = 90.0


@pytest.fixture
def engine(display):
    settings = load_settings(None, {"display.refresh_hz": RATE, "ui.instructions": False,
                                    "ui.speak_instructions": False,
                                    "safety.ssq_baseline": False})
    made = Engine(settings, scripted_source(settings), display)
    yield made
    made.close()


def _times(loop_frames: list[tuple[float, float]]) -> np.ndarray:
    return np.array([t for t, _dt in loop_frames])


def _run(source: FrameSource, engine: Engine, **kwargs) -> tuple[FrameLoop, list]:
    seen: list[tuple[float, float]] = []
    loop = run_frames(source, engine, on_frame=lambda _loop, f: seen.append((f.t, f.dt)),
                      **kwargs)
    return loop, seen


def test_offscreen_frames_run_on_the_frame_count_clock_and_are_recorded(engine, tmp_path):
    before = engine.frame_index
    with Recorder(tmp_path / "rec.npz") as recorder:
        loop, seen = _run(OffscreenFrames(RATE, max_frames=12, draw=True), engine,
                          recorder=recorder)
    assert loop.frames == 12 and engine.frame_index - before == 12
    assert np.allclose(_times(seen), np.arange(12) / RATE)
    assert engine.timer.summary()["render"]["median"] > 0      # drawn in the engine's frame
    assert np.allclose(load_replay(tmp_path / "rec.npz").t, np.arange(12) / RATE)


def test_benchmark_frames_time_each_frame_and_draw_every_nth(engine):
    times = np.arange(10) / 120.0 + 5.0
    frames = BenchmarkFrames(engine.display, times, 1 / 120.0, draw=lambda i: i % 4 == 0)
    loop, seen = _run(frames, engine)
    assert loop.frames == 10 and np.allclose(_times(seen), times)
    assert (frames.frame_ms > 0).all() and len(frames.draw_ms) == 3    # frames 0, 4, 8


def test_fallback_frames_go_on_from_the_headset_clock(engine):
    loop, seen = _run(FallbackFrames(engine.display, RATE, start_t=100.0, window=False),
                      engine, frames=5)
    assert loop.frames == 5
    assert np.allclose(_times(seen), 100.0 + np.arange(1, 6) / RATE)
    assert all(dt == pytest.approx(1 / RATE) for _t, dt in seen)


def test_window_frames_run_on_the_wall_clock_and_step_the_task_manager(engine):
    ticks = []
    base = engine.display.base
    base.taskMgr.add(lambda task: ticks.append(1) or task.cont, "count-steps")
    try:
        loop, seen = _run(WindowFrames(engine.display), engine, frames=6)
    finally:
        base.taskMgr.remove("count-steps")
    t = _times(seen)
    assert loop.frames == 6 and len(ticks) == 6            # one task-manager step a frame
    assert (np.diff(t) > 0).all() and all(dt > 0 for _t, dt in seen)


def test_a_session_starts_at_the_first_frame_with_focus_and_its_end_ends_the_run(engine,
                                                                               tmp_path):
    program = Program("p01", phase="mirror", breathing_between_blocks=False,
                      steps={"mirror": [SceneStep("free_mirror", 0.1)]})
    runner = SessionRunner(engine, program, tmp_path, seed=1, max_block_s=1.0)
    engine.focus_lost = True                            # a headset still loading

    def focus(t: float) -> None:
        if t >= 3 / RATE:
            engine.focus_lost = False
    states = []
    auto = AutoPatient()
    source = OffscreenFrames(RATE, max_frames=5000,
                             feeders=[focus, lambda t: auto.feed(runner, t)])
    loop = run_frames(source, engine, runner,
                      on_frame=lambda _loop, _f: states.append(runner.state))
    runner.close()
    assert states[:3] == ["idle"] * 3 and states[3] == "running"
    assert runner.done and not loop.alive and loop.frames < 5000      # the session's end
    started = [e for e in runner.events.history if e.kind == "session_started"]
    assert started[0].t == pytest.approx(3 / RATE)


def test_stop_ends_the_run_at_the_frame_boundary(engine):
    source = OffscreenFrames(RATE)                                 # no end of its own
    loop = run_frames(source, engine,
                      on_frame=lambda lp, _f: lp.stop() if lp.frames == 7 else None)
    assert loop.frames == 7 and source.ended


def test_every_mode_is_a_frame_source():
    for source in (OffscreenFrames, WindowFrames, BenchmarkFrames, FallbackFrames, XrRunner):
        assert issubclass(source, FrameSource)


def _frame_calls(tree: ast.AST):
    """Calls that run an engine frame or a session step: ``x.frame(t, dt, ...)`` and
    ``x.step(t, dt, ...)`` (the core pipeline's own replay passes, ``pipeline.step`` /
    ``core.step``, step no display and are not frames of a mode)."""
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("frame", "step") and len(node.args) >= 2):
            receiver = ast.unparse(node.func.value)
            if not receiver.endswith(("pipeline", "core")):
                yield node


def test_no_module_but_the_frame_loop_loops_over_frames():
    """The only loop over engine frames or session steps in the package is the frame loop
    (its ``run`` calls ``FrameLoop._advance`` once per frame); the layers under it
    (day -> session -> engine -> scene) call the next one once per frame."""
    package = Path(vrgmi.__file__).parent
    looped, callers = [], set()
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        name = path.relative_to(package).as_posix()
        callers |= {name for _call in _frame_calls(tree)}
        for loop in (n for n in ast.walk(tree) if isinstance(n, (ast.For, ast.While))):
            looped += [f"{name}:{call.lineno}" for call in _frame_calls(loop)]
    assert looped == []
    assert callers == {"frame_loop.py", "clinic.py", "session.py", "app.py",
                       "companion/bench.py"}
