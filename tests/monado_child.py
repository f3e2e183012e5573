"""The engine on Monado, in a child process of tests/test_monado.py (one Panda3D display and
one OpenXR runtime per process; the runtime reads its environment once).

    python tests/monado_child.py mirror|day <out dir> <remote port> <headless|desktop>

``mirror``: the bare engine (free mirror); the remote driver moves the intact (right)
controller to a new pose every second frame; writes frames.npz (per frame: predicted and
located time, the grip the engine used, the pose sent, both limbs' joints, the torso) and
eyes.npz (both eyes' swapchain images read back on the last frame, where the limbs' joints
project in them). ``day``: a clinic day of two laterality sessions in one OpenXR session,
answered through the remote controllers' buttons, with the companion's live view on;
writes the summaries and the live view's last picture. Both write result.json.
"""
from __future__ import annotations

import ctypes
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tests.eye_pixels import project_joints
from tests.monado import RemoteDriver
from vrgmi.core import warmup
from vrgmi.render.display import Display, open_display
from vrgmi.settings import load_settings
from vrgmi.xr_app import XrRunner

GL_RGBA, GL_UNSIGNED_BYTE = 0x1908, 0x1401
_GET_IMAGE = ctypes.CFUNCTYPE(None, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
                              ctypes.c_int, ctypes.c_void_p)


def _get_texture_image(binding: str):
    """glGetTextureImage of the current context (EGL or GLX)."""
    if binding == "EGL":
        lookup = ctypes.CDLL("libEGL.so.1").eglGetProcAddress
    else:
        lookup = ctypes.CDLL("libGL.so.1").glXGetProcAddressARB
    lookup.restype, lookup.argtypes = ctypes.c_void_p, [ctypes.c_char_p]
    return _GET_IMAGE(lookup(b"glGetTextureImage"))


class EyeReadback:
    """Wraps the eyes' texture copy: right after each copy into a swapchain image (while it
    is acquired) the image is read back, so the last frame's images are what Monado got."""

    def __init__(self, runner: XrRunner) -> None:
        eyes = runner.link.eyes
        self.size, self.images = eyes.size, [None, None]
        self._get = _get_texture_image(runner.binding)
        self._copy, self._eye = eyes.gl.copy_texture, 0
        eyes.gl.copy_texture = self.copy

    def copy(self, src: int, dst: int, width: int, height: int) -> None:
        self._copy(src, dst, width, height)
        img = np.empty((height, width, 4), np.uint8)
        self._get(dst, 0, GL_RGBA, GL_UNSIGNED_BYTE, img.nbytes, img.ctypes.data)
        self.images[self._eye] = img[::-1].copy()
        self._eye ^= 1


def settings_for(mode: str, **extra: str):
    return load_settings(overrides={"patient.amputation_side": "left",
                                    "patient.amputation_level": "transradial",
                                    "display.mode": mode, "tracking.one_euro": "false",
                                    "safety.ssq_baseline": "false", **extra})


#: a seated patient's head: 1.25 m up, looking 35 degrees down at the hands
HEAD = ([0.0, 1.25, 0.0], [float(np.sin(np.radians(-35) / 2)), 0.0, 0.0,
                           float(np.cos(np.radians(-35) / 2))])


def seated_patient(remote: RemoteDriver) -> RemoteDriver:
    """The headset where a seated patient wears it, the right controller at rest."""
    remote.head(*HEAD)
    remote.controller("right", *controller_pose(0))
    remote.send()
    return remote


#: the intact (right) controller's path: poses in Monado's stage space, each held 2 frames
def controller_pose(k: int) -> tuple[list[float], list[float]]:
    a = 0.35 * np.sin(0.5 * k)
    position = [0.28 + 0.05 * np.cos(0.5 * k), 1.05 + 0.08 * np.sin(0.5 * k),
                -0.38 + 0.04 * np.sin(0.3 * k)]
    return position, [0.0, float(np.sin(a / 2)), 0.0, float(np.cos(a / 2))]


def run_closing(runner: XrRunner, remote: RemoteDriver, display: Display, frames: int,
                hook: Callable[[XrRunner, int], None]) -> dict[str, Any]:
    """``runner``'s report of ``frames`` frames calling ``hook``; the remote driver, the
    engine and the display are closed after it, also when it fails."""
    try:
        return runner.run(frames=frames, on_frame=hook)
    finally:
        remote.close()
        runner.engine.close()
        display.close()


def run_mirror(out: Path, port: int, mode: str, frames: int) -> None:
    display = open_display(mode, size=(320, 240))
    runner = XrRunner(settings_for(mode), display)
    remote = seated_patient(RemoteDriver(port))
    readback = EyeReadback(runner)
    rows, states, sent = [], [], None
    joints: dict[str, np.ndarray] = {}

    def hook(r: XrRunner, t: int) -> None:
        nonlocal sent, joints
        states.append(r.link.xrs.state.name)
        core = r.engine.core
        if r.link.xrs.focused:
            rows.append((t, r.stats.located_ns[-1], core.frame.grip[1].copy(),
                         bool(core.frame.grip_valid[1]),
                         np.full(7, np.nan) if sent is None else np.r_[sent[0], sent[1]],
                         core.intact.positions.copy(), core.phantom.positions.copy(),
                         core.torso.pose.copy()))
            if len(rows) % 2 == 1:                      # a new pose every second frame
                sent = controller_pose(len(rows))
                remote.controller("right", *sent)
                remote.send()
        joints = project_joints(r)

    report = run_closing(runner, remote, display, frames, hook)
    cols = list(zip(*rows))
    np.savez(out / "frames.npz", predicted=np.array(cols[0], np.int64),
             located=np.array(cols[1], np.int64), grip=np.array(cols[2]),
             grip_valid=np.array(cols[3]), sent=np.array(cols[4]), intact=np.array(cols[5]),
             phantom=np.array(cols[6]), torso=np.array(cols[7]))
    np.savez(out / "eyes.npz", left=readback.images[0], right=readback.images[1], **joints)
    (out / "result.json").write_text(json.dumps({
        "binding": report["binding"], "fallback": report["fallback"], "xr": report["xr"],
        "runtime": report["runtime"], "states": states}))


STICK_RIGHT, STICK_LEFT, STICK_REST = {"thumbstick": (1.0, 0.0)}, {"thumbstick": (-1.0, 0.0)}, \
    {"thumbstick": (0.0, 0.0)}
PRESS, RELEASE = {"a_click": True}, {"a_click": False}
#: the NRS before a session, on the right controller: (nothing chosen) 10 -> 7, confirm
NRS_SEVEN = [STICK_LEFT, STICK_REST] * 4 + [PRESS, RELEASE]


class ControllerPatient:
    """A clinic day through Monado's remote controllers: each session's NRS is answered
    7 with the thumbstick and A, A begins the laterality task and the first picture is
    answered with the trigger on its side;
    then the therapist stops the session (no post questionnaires: short), presses Start
    once, and the run ends after the second session. Each controller state is held two
    frames (Monado serves the latest state it has read, so none is missed)."""

    def __init__(self, remote: RemoteDriver, services) -> None:
        self.remote, self.services = remote, services
        self.block, self.todo, self.answered = None, [], set()
        self.started, self.stopped, self.frame = False, 0, 0

    def command(self, name: str) -> None:
        from vrgmi.control import Command
        self.services.commands.put(Command(name, {}))

    def __call__(self, runner: XrRunner, _t: int) -> None:
        day = runner.session
        self.frame += 1
        if self.todo and self.frame % 2 == 0:           # also while idle: a release is due
            change = dict(self.todo.pop(0))
            self.remote.controller(change.pop("side", "right"), **change)
            self.remote.send()
        if day.idle:
            if len(day.summaries) == 1 and not self.started:
                self.command("start")
                self.started = True
            elif len(day.summaries) == 2:
                runner.request_stop()
            return
        session = day.runner
        if session.current is not self.block:
            self.block = session.current
            pre_nrs = self.block is not None and (self.block.scene, self.block.part) == \
                ("pain_nrs", "pre")
            if pre_nrs:
                self.todo += NRS_SEVEN                  # after any release still due
        scene = session.scene
        inner = getattr(scene, "inner", scene)           # under the session's guard
        if scene is not None and scene.name == "laterality":
            task = inner.task
            if (task.trials or task.practice) and self.stopped < len(day.summaries) + 1:
                self.command("emergency_stop")           # a trial answered: stop here
                self.stopped += 1
            elif task.phase in ("intro", "rest") and not self.todo:   # "press to begin"
                self.todo = [PRESS, RELEASE]
            # keyed by onset too: a frame gap (Monado slows under load) voids the trial and
            # shows the picture again, to be answered again
            trial = (session.session, task.block, len(task.practice), len(task.trials),
                     task.onset)
            if task.stimulus_visible and trial not in self.answered:
                self.answered.add(trial)
                side = task.stimulus.side
                self.todo = [{"trigger_value": 1.0, "trigger_click": True, "side": side},
                             {"trigger_value": 0.0, "trigger_click": False, "side": side}]


def run_day(out: Path, port: int, mode: str) -> None:
    """Two laterality sessions of a clinic day in one OpenXR session, answered through the
    controllers; the companion's live view publishes the patient's view meanwhile."""
    from vrgmi.clinic import ClinicDay, ClinicServices
    from vrgmi.companion.snapshot import LiveView
    from vrgmi.events import read_events
    from vrgmi.program import Program, SceneStep
    from vrgmi.records import open_database, queries

    # no practice trials: their time limit runs on the display clock, which Monado's null
    # compositor stretches under load; the probe pictures wait for the answer
    settings = settings_for(mode, **{"patient.id": "P1", "ui.instructions": "false",
                                     "ui.speak_instructions": "false",
                                     "practice.laterality_trials": "0"})
    db = open_database(f"sqlite:///{out / 'records.sqlite'}")
    queries.upsert_patient(db, "P1", side="left", level="transradial", height_m=1.75)
    services = ClinicServices(db=db)
    program = Program("P1", phase="laterality", breathing_between_blocks=False,
                      steps={"laterality": [SceneStep("laterality", 0.5)]})
    display = open_display(mode, size=(320, 240))
    live = LiveView(display.base, services.board)
    pictures = []
    days: list[ClinicDay] = []

    def make_day(engine) -> ClinicDay:
        days.append(ClinicDay(services, engine, program, out, block_seconds=60.0, live=live,
                              stay_open=True))
        return days[-1]

    runner = XrRunner(settings, display, out, session=make_day)
    remote = seated_patient(RemoteDriver(port))
    patient = ControllerPatient(remote, services)

    def hook(r: XrRunner, t: int) -> None:
        patient(r, t)
        seq, picture = services.board.image()
        if picture and (not pictures or pictures[-1][0] != seq):
            pictures.append((seq, picture))

    try:
        report = runner.run(frames=400, on_frame=hook)
    finally:
        remote.close()
        runner.engine.close()                     # the day closed the live view
        display.close()
        db.close()
    summaries = days[0].summaries
    if pictures:
        (out / "live.jpg").write_bytes(pictures[-1][1])
    trials = [e["data"] for s in summaries
              for e in read_events(out / f"events-{s['session']}.jsonl") if e["kind"] == "trial"]
    (out / "result.json").write_text(json.dumps({
        "binding": report["binding"], "fallback": report["fallback"], "xr": report["xr"],
        "runtime": report["runtime"], "summaries": summaries, "trials": trials,
        "pictures": len(pictures)}, default=str))


def main() -> None:
    scenario, out, port, mode = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    warmup()
    if scenario == "mirror":
        run_mirror(out, port, mode, int(sys.argv[5]) if len(sys.argv) > 5 else 24)
    elif scenario == "day":
        run_day(out, port, mode)
    else:
        raise SystemExit(f"unknown scenario {scenario}")


if __name__ == "__main__":
    main()
