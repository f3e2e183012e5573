"""A session killed with SIGKILL loses at most the trial in flight.

A child process runs a scripted scene at 90 frames a second through the real event path
(Scene.emit -> EventBus -> RecordSink -> database); the scene completes a trial every ~50 ms
and the child prints each trial's index right after emitting it. The parent SIGKILLs the
child mid-session and then finds every trial that was emitted before the last printed one in
the database, on SQLite (WAL, synchronous=FULL) and on PostgreSQL.

The second test kills the real engine: ``vrgmi session --headless`` with a scripted patient
answering the laterality task, SIGKILLed once its events-*.jsonl log (fsync'ed per event)
holds 20 trials; every logged trial but the last is then in the database, none twice.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pg_server import pg_url  # noqa: F401  (fixture)
from vrgmi.events import read_events
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


# --- the real engine, killed mid-session ---------------------------------------------------

#: trials in the session's JSONL log before the kill: the first 30 s laterality block gives
#: ~15 (the session is paced in real time, as in a headset; no instruction screen or practice
#: trials before it), so the kill lands mid-block while trials are still being completed
KILL_AFTER_TRIALS = 10


def _answer_script(path: Path) -> Path:
    """Answers the pre-session NRS (0: nothing is pre-selected), then "left"/"right" every
    0.3 s of display time (answers during a stimulus's fixation count as anticipations; each
    stimulus gets one)."""
    script: list[list] = [[0.5, "right"], [0.5, "select"]]
    script += [[round(1.5 + 0.3 * k, 2), "left" if k % 2 else "right"] for k in range(2000)]
    path.write_text(json.dumps(script))
    return path


def _logged_trials(out: Path) -> list[dict]:
    """The trial events in the session's JSON Lines log (a torn last line is skipped)."""
    logs = list(out.glob("events-*.jsonl"))
    return [e for e in read_events(logs[0]) if e["kind"] == "trial"] if logs else []


def _trial_key(session: str, scene: str, index: int, t: float) -> tuple:
    """A trial's identity: its session, scene, index in the scene and display time."""
    return session, scene, int(index), round(float(t), 6)


def test_sigkill_of_a_real_engine_session_loses_no_logged_trial(url, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "vrgmi", "session", "--headless", "--realtime",
           "--block-seconds", "30",
           "--out", str(out), "--script", str(_answer_script(tmp_path / "answers.json")),
           "--set", f"data.database_url={url}", "--set", "companion.port=0",
           "--set", "patient.id=P7", "--set", "safety.ssq_baseline=false",
           "--set", "ui.instructions=false", "--set", "practice.laterality_trials=0"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    err = tmp_path / "stderr.txt"
    with open(err, "w") as stderr:
        child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=env,
                                 cwd=tmp_path)
    deadline = time.monotonic() + 90
    try:
        while len(_logged_trials(out)) < KILL_AFTER_TRIALS:
            assert child.poll() is None, err.read_text()[-2000:]
            assert time.monotonic() < deadline, "the session logged too few trials in 90 s"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
    assert child.returncode == -signal.SIGKILL
    logged = _logged_trials(out)                       # every line was fsync'ed when written
    assert len(logged) >= KILL_AFTER_TRIALS

    db = open_database(url)
    try:
        stored = q.patient_trials(db, "P7")
    finally:
        db.close()
    stored_keys = [_trial_key(t["session"], t["scene"], t["index"], t["t"]) for t in stored]
    logged_keys = [_trial_key(e["session"], e["scene"], e["data"]["index"], e["t"])
                   for e in logged]
    assert len(stored_keys) == len(set(stored_keys)), "a trial is stored twice"
    missing = [k for k in logged_keys[:-1] if k not in set(stored_keys)]
    assert not missing, f"{len(missing)} logged trials are not in the database: {missing}"
    by_key = dict(zip(stored_keys, stored))
    for k, e in zip(logged_keys[:-1], logged):         # the stored values are the logged ones
        assert by_key[k]["correct"] == e["data"]["correct"]
        assert by_key[k]["block"] == e["data"]["block"]
