"""Phantom motor execution through the whole engine: a decoder stream on the loopback
(tests/lsl_loopback.py) moves the phantom's wrist to each target while the intact arm rests
(the trials succeed); without a decoder the phantom only mirrors a moving intact arm (the
trials time out, flagged intact_moved)."""
from __future__ import annotations

import time

import numpy as np
import pytest

from tests.lsl_loopback import loopback

loopback()          # before any LSL object exists in this process

import pylsl  # noqa: E402

from vrgmi.app import Engine  # noqa: E402
from vrgmi.control import CommandQueue, StatusBoard  # noqa: E402
from vrgmi.program import Program, SceneStep  # noqa: E402
from vrgmi.research.pme import dof_posture  # noqa: E402
from vrgmi.scenes.breathing import Breathing, CalmView  # noqa: E402
from vrgmi.scenes.nrs import PainNRS  # noqa: E402
from vrgmi.scenes.phantom_execution import PhantomExecution, gauge  # noqa: E402
from vrgmi.scenes.ssq import SSQ  # noqa: E402
from vrgmi.session import SessionRunner  # noqa: E402
from vrgmi.settings import load_settings  # noqa: E402
from vrgmi.tracking.scripted import ScriptedSource  # noqa: E402

REGISTRY = {c.name: c for c in (PainNRS, SSQ, Breathing, CalmView, PhantomExecution)}
DT = 0.01


def _run(display, tmp_path, motion, stream, params, decoder):
    """Step a session until the phantom-execution block ends; its trials and summary."""
    settings = load_settings(None, [
        "ui.instructions=false", "safety.ssq_baseline=false", f"lsl.drive_stream={stream}",
        "lsl.wrist_channel=0", "lsl.drive_smoothing_s=0.02", "lsl.drive_fade_s=0.2",
        "lsl.drive_timeout_s=0.2"])
    program = Program("p01", phase="mirror", steps={"mirror": [
        SceneStep("phantom_execution", 1.0, params)]})
    engine = Engine(settings, ScriptedSource(motion, intact_side="right"), display)
    runner = SessionRunner(engine, program, tmp_path, CommandQueue(), StatusBoard(),
                           registry=REGISTRY)
    answered, k, shot = set(), 0, None
    try:
        while True:
            t = k * DT
            assert t < 60.0, "the block did not end"
            scene = runner.scene
            if scene is not None and scene.name == "pain_nrs" and id(scene) not in answered:
                answered.add(id(scene))
                engine.inputs.push("right", t, "script")
                engine.inputs.push("select", t, "script")
            task = getattr(getattr(scene, "inner", None), "task", None)
            if decoder is not None:
                decoder.push_sample([task.target if task is not None and task.active
                                     else 0.5])
            render = task is not None and task.active and shot is None and \
                t - task.onset > 0.15
            runner.step(t, DT, render=render)
            if render:
                shot = engine.screenshot(tmp_path / "phantom-execution.png")
            if scene is not None and scene.name == "phantom_execution" and scene.finished:
                break
            k += 1
            time.sleep(DT)
        events = runner.events
        return ([e.data for e in events.of_kind("trial", "phantom_execution")],
                events.of_kind("block_finished", "phantom_execution")[0].data, shot)
    finally:
        runner.close()
        engine.close()


def test_a_decoder_moves_the_phantom_wrist_to_every_target(display, tmp_path):
    stream = f"pme-decoder-{time.monotonic_ns()}"
    decoder = pylsl.StreamOutlet(pylsl.StreamInfo(stream, "EMG", 1, 100.0, pylsl.cf_float32,
                                                  stream))
    trials, summary, shot = _run(display, tmp_path, "rest", stream,
                                 {"trials": 3, "hold_s": 0.3, "rest_s": 0.3,
                                  "time_limit_s": 5.0}, decoder)
    assert len(trials) == 3 and all(t["dof"] == "wrist" for t in trials)
    assert all(t["success"] and not t["intact_moved"] for t in trials)
    assert all(t["final_error"] <= 0.1 and t["drive_presence"] > 0.9 for t in trials)
    assert all(0.2 <= t["target"] <= 0.8 for t in trials)
    assert len({t["target"] for t in trials}) == 3
    assert summary["successes_intact_still"] == 3 and summary["success_rate"] == 1.0
    assert shot is not None and shot.exists()


def test_without_a_decoder_the_mirror_is_not_phantom_execution(display, tmp_path):
    trials, summary, _ = _run(display, tmp_path, "reach", f"absent-{time.monotonic_ns()}",
                              {"trials": 1, "dof": "wrist", "hold_s": 0.5, "rest_s": 0.1,
                               "time_limit_s": 2.0, "tolerance": 0.02}, None)
    (trial,) = trials
    assert trial["intact_moved"] and trial["drive_presence"] == 0.0
    assert summary["successes_intact_still"] == 0


def test_posture_and_gauge():
    class Solver:
        angles = np.zeros(27)
        geometry = np.zeros(200)
        limits = np.radians(np.tile([[-80.0, 80.0]], (27, 1)))

    s = Solver()
    s.angles[4] = 0.0
    assert dof_posture(s, "wrist") == pytest.approx(0.5)
    assert gauge(0.5, 0.25) == "[######......|...........]"
