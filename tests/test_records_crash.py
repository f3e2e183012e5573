"""A session killed with SIGKILL loses at most the trial in flight.

A child process runs a scripted scene at 90 frames a second through the real event path
(Scene.emit -> EventBus -> RecordSink -> database); the scene completes a trial every ~50 ms
and the child prints each trial's index right after emitting it. The parent SIGKILLs the
child mid-session and then finds every trial that was emitted before the last printed one in
the database, on SQLite (WAL, synchronous=FULL) and on PostgreSQL.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pg_server import pg_url  # noqa: F401  (fixture)
from vrgmi.records import open_database
from vrgmi.records import queries as q

REPO = Path(__file__).resolve().parents[1]

CHILD = r'''
import sys, time
from vrgmi.events import EventBus
from vrgmi.records import RecordSink, open_database
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame

class EveryFiftyMs(Scene):
    """Completes a trial every 50 ms of display time."""
    name = "crash_probe"
    phase = "laterality"
    emits = ("trial",)

    def __init__(self):
        super().__init__()
        self.next_index = 0

    def update(self, frame, dt):
        self._t = frame.t
        if frame.t >= 0.05 * (self.next_index + 1):
            i = self.next_index
            self.emit("trial", {"index": i, "block": 0, "correct": i % 3 != 0,
                                "rt_s": 1.5 + 0.01 * i, "side": "left" if i % 2 else "right"})
            self.next_index += 1
            print(i, flush=True)

db = open_database(sys.argv[1])
bus = EventBus("crash-1", [RecordSink(db, spill_path=sys.argv[2])])
bus.emit("session_started", 0.0, {"patient": "PK1", "phase": "laterality",
                                   "side": "left", "level": "transradial"})
scene = EveryFiftyMs()
scene.setup(SceneContext(root=None, core=None, events=bus))
print("ready", flush=True)
t0 = time.perf_counter()
for n in range(100000):
    t = n / 90.0
    while time.perf_counter() - t0 < t:
        time.sleep(0.001)
    scene.update(SceneFrame(t, n, [], None, False, None, None, 1.0, None), 1 / 90)
'''


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.sqlite3'}"
    return request.getfixturevalue("pg_url")


def test_sigkill_mid_session_loses_at_most_the_trial_in_flight(url, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, str(tmp_path / "spill.jsonl")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    printed: list[int] = []
    deadline = time.monotonic() + 60
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        while len(printed) < 40 and time.monotonic() < deadline:
            line = child.stdout.readline()
            assert line, child.stderr.read()
            printed.append(int(line))
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL and len(printed) == 40
    last = printed[-1]
    db = open_database(url)
    stored = sorted(t["index"] for t in q.patient_trials(db, "PK1"))
    db.close()
    # every trial emitted before the last printed one is committed; nothing is stored twice
    assert set(range(last)) <= set(stored), sorted(set(range(last)) - set(stored))
    assert len(stored) == len(set(stored)) and max(stored) <= last + 2
    assert not (tmp_path / "spill.jsonl").exists()
