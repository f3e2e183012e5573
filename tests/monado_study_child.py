"""A study session with the delayed-mirror condition on Monado, in a child process of
tests/test_phantom_study_monado.py (one Panda3D display and one OpenXR runtime per process).

    python tests/monado_study_child.py <out dir> <remote port> <frames>

A SessionRunner whose program allocates the delayed condition runs in the headset (its
pre-session pain question stays open: the condition holds from the session's start); the
remote driver moves the intact (right) controller to a new pose every second frame. Writes
frames.npz (per focused frame: its predicted display time, the display time the core ran
at, both limbs' joints, the torso), the companion statuses' phantom part and the result
(report, allocation, the session's events) in result.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from tests.monado import RemoteDriver
from tests.monado_child import controller_pose, run_closing, seated_patient, settings_for
from vrgmi.companion.live import dumps
from vrgmi.core import warmup
from vrgmi.events import read_events
from vrgmi.program import Program, SceneStep
from vrgmi.render.display import open_display
from vrgmi.session import SessionRunner
from vrgmi.study.allocation import StudyPlan
from vrgmi.xr_app import XrRunner

DELAY_S = 0.3


def run(out: Path, port: int, frames: int) -> None:
    program = Program("p01", phase="mirror", steps={"mirror": [SceneStep("free_mirror", 0.1)]},
                      study=StudyPlan(conditions=["delayed"], seed=5, delay_s=DELAY_S))
    display = open_display("headless", size=(160, 120))
    sessions: list[SessionRunner] = []

    def make_session(engine) -> SessionRunner:
        sessions.append(SessionRunner(engine, program, out))
        return sessions[-1]

    runner = XrRunner(settings_for("headless"), display, out, session=make_session)
    remote = seated_patient(RemoteDriver(port))
    rows, statuses = [], []

    def hook(r: XrRunner, t: int) -> None:
        core = r.engine.core
        if not r.link.xrs.focused:
            return
        rows.append((t, core.frame.t, core.intact.positions.copy(),
                     core.phantom.positions.copy(), core.torso.pose.copy()))
        statuses.append(r.session.board.status()[1].get("phantom"))
        if len(rows) % 2 == 1:                          # a new pose every second frame
            remote.controller("right", *controller_pose(len(rows)))
            remote.send()

    report = run_closing(runner, remote, display, frames, hook)
    cols = list(zip(*rows))
    np.savez(out / "frames.npz", predicted=np.array(cols[0], np.int64),
             t=np.array(cols[1]), intact=np.array(cols[2]), phantom=np.array(cols[3]),
             torso=np.array(cols[4]))
    session = sessions[0]
    (out / "result.json").write_text(json.dumps({
        "fallback": report["fallback"], "xr": report["xr"], "runtime": report["runtime"],
        "allocations": session.program.study.allocations,
        "events": [{"kind": e["kind"], "data": e["data"]}
                   for e in read_events(session.log_path)
                   if e["kind"] in ("study_condition", "session_started")],
        "statuses": [dumps(s) for s in statuses]}, default=str))


if __name__ == "__main__":
    warmup()
    run(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
