"""Crash suite: a real `vrgmi session` killed with SIGKILL at random moments (seeded, two
per backend) on SQLite and PostgreSQL; the next start closes each killed session as
``interrupted`` with every trial its JSON Lines log holds, closes its open scene run, and the
gate never counts it (vrgmi.records.interrupted, docs/records.md).

Each backend runs one chain: start, kill at a random moment, start again (which closes the
killed one), ... and a last session that completes and is gated. The sessions are paced in
real time, as in a headset, so a kill lands before, between or during trials.
"""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from pg_server import pg_url  # noqa: F401  (fixture)
from vrgmi.events import EventBus, JsonlEventLog, read_events
from vrgmi.program import INTERRUPTED, ImageryGate, Program, gate
from vrgmi.records import open_database
from vrgmi.records import queries as q
from vrgmi.records.interrupted import close_interrupted
from vrgmi.records.programs import load_program, session_summaries
from vrgmi.records.schema import SceneRun
from vrgmi.records.store import RecordSink

REPO = Path(__file__).resolve().parents[1]
PATIENT = "PK9"
#: kills per backend; each falls after a random number of logged events (from the pre NRS
#: to some ten trials in) plus a random delay, so it lands before, between or during trials
#: however loaded the machine is
KILLS = 2
KILL_AFTER_EVENTS = (2, 16)
KILL_DELAY_S = (0.0, 0.4)


def _answers(path: Path) -> Path:
    """The pre NRS (0), then "left" / "right" every 0.3 s of display time."""
    script: list[list] = [[0.5, "right"], [0.5, "select"]]
    script += [[round(1.5 + 0.3 * k, 2), "left" if k % 2 else "right"] for k in range(400)]
    path.write_text(json.dumps(script))
    return path


def _start(url: str, out: Path, tmp: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "vrgmi", "session", "--headless", "--out", str(out),
           "--set", f"data.database_url={url}", "--set", "companion.enabled=false",
           "--set", f"patient.id={PATIENT}", "--set", "safety.ssq_baseline=false",
           "--set", "ui.instructions=false", "--set", "practice.laterality_trials=0",
           "--override-limit", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DISPLAY", None)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=tmp)


def _wait_log(out: Path, known: set[Path], child: subprocess.Popen, events: int) -> Path:
    """The new session's log once it holds ``events`` events."""
    deadline = time.monotonic() + 90
    while True:
        logs = set(out.glob("events-*.jsonl")) - known
        if logs:
            log = logs.pop()
            if len(list(read_events(log))) >= events:
                return log
        assert child.poll() is None, child.stderr.read()[-2000:]
        assert time.monotonic() < deadline, f"the session logged fewer than {events} events"
        time.sleep(0.02)


def _trial_keys(events: list[dict]) -> list[tuple]:
    return [(e["scene"], int(e["data"]["index"]), round(float(e["t"]), 6)) for e in events
            if e["kind"] == "trial"]


def _kill_chain(url: str, tmp: Path, seed: int) -> tuple[list[tuple[str, list[tuple]]],
                                                         list[str]]:
    """KILLS killed sessions then one that completes; returns [(session, logged trial keys)]
    of the killed ones and every start's stderr, in order."""
    rng = random.Random(seed)
    out, killed, known, said = tmp / "out", [], set(), []
    script = _answers(tmp / "answers.json")
    for _ in range(KILLS):
        child = _start(url, out, tmp, "--realtime", "--block-seconds", "30", "--script",
                       str(script))
        try:
            log = _wait_log(out, known, child, rng.randint(*KILL_AFTER_EVENTS))
            known.add(log)
            time.sleep(rng.uniform(*KILL_DELAY_S))
            assert child.poll() is None, child.stderr.read()[-2000:]
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
        assert child.returncode == -signal.SIGKILL
        said.append(child.stderr.read())
        killed.append((log.stem.removeprefix("events-"), _trial_keys(list(read_events(log)))))
    last = _start(url, out, tmp, "--block-seconds", "0.5")
    stdout, stderr = last.communicate(timeout=120)
    assert last.returncode == 0, stderr[-2000:]
    assert json.loads(stdout)["reason"] == "completed"
    return killed, said + [stderr]


def _check(url: str, killed: list[tuple[str, list[tuple]]], said: list[str]) -> None:
    """Every killed session closed as interrupted by the next start, with exactly the
    trials of its log and no open scene run; the gate's one decision ignores them."""
    db = open_database(url)
    try:
        sessions = {s["id"]: s for s in q.list_sessions(db, PATIENT)}
        assert len(sessions) == KILLS + 1
        for k, (sid, logged) in enumerate(killed):
            s = sessions[sid]
            assert f"session {sid} was interrupted" in said[k + 1], said[k + 1][-1500:]
            assert s["ended"] is not None and s["reason_ended"] == INTERRUPTED
            assert s["minutes"] is not None and s["minutes"] >= 0
            stored = [(t["scene"], t["index"], round(t["t"], 6))
                      for t in q.session_trials(db, sid)]
            assert len(stored) == len(set(stored)), "a trial is stored twice"
            assert sorted(stored) == sorted(logged), "the stored trials are not the logged ones"
            with db.session() as orm:
                assert orm.query(SceneRun).filter(SceneRun.session_id == sid,
                                                  SceneRun.ended.is_(None)).count() == 0
        summaries = session_summaries(db, PATIENT)
        reasons = {h["session"]: h["reason"] for h in summaries}
        assert [reasons[sid] for sid, _ in killed] == [INTERRUPTED] * KILLS
        # the gate: one decision, after the completed session, judged without the killed ones
        (decision,) = q.gate_history(db, PATIENT)
        completed = [h for h in summaries if h["reason"] != INTERRUPTED]
        assert decision["criteria"] == gate(load_program(db, PATIENT),
                                            completed).as_dict()["criteria"]
    finally:
        db.close()


def test_killed_sessions_are_closed_as_interrupted_at_the_next_start(pg_url, tmp_path):
    """Both backends at once (the sessions mostly wait on the real-time clock)."""
    urls = {"sqlite": f"sqlite:///{tmp_path / 'crash.sqlite3'}", "postgresql": pg_url}
    for name in urls:
        (tmp_path / name).mkdir()
    with ThreadPoolExecutor(2) as pool:
        chains = {name: pool.submit(_kill_chain, url, tmp_path / name, seed)
                  for seed, (name, url) in enumerate(urls.items(), start=15)}
        results = {name: chain.result() for name, chain in chains.items()}
    for name, (killed, said) in results.items():
        _check(urls[name], killed, said)
    # the seeded moments reach into the trials: some killed session had logged trials
    assert any(logged for killed, _ in results.values() for _, logged in killed)


def test_the_gate_never_counts_an_interrupted_session_but_its_flare_holds():
    program = Program("PK9", phase="imagery", phase_started=date(2026, 1, 1),
                      imagery=ImageryGate(min_sessions=2, min_phase_days=0))
    done = {"phase": "imagery", "date": "2026-01-02", "reason": "completed",
            "imagery": {"ratio": 1.0, "trials": 10, "kviq_mean": 4.0}}
    crashed = dict(done, date="2026-01-03", reason=INTERRUPTED)
    one = gate(program, [done, crashed])
    assert one.criteria["sessions"].value == 1 and not one.advance
    assert gate(program, [done, dict(crashed, reason="completed")]).advance
    flared = dict(crashed, pain_flare=True)
    held = gate(program, [done, dict(done, date="2026-01-03"), flared])
    assert not held.criteria["no_pain_flare"].met and not held.advance


def _log_session(out: Path, db, sid: str, stored: int, logged: int) -> None:
    """A laterality session ``sid`` of PATIENT whose first ``stored`` events reached the
    records and whose log holds ``logged`` (>= stored) events, as a kill would leave it."""
    sink = RecordSink(db, spill_path=out / "spill.jsonl")
    log = JsonlEventLog(out / f"events-{sid}.jsonl")
    events = [("session_started", 0.0, {"patient": PATIENT, "phase": "laterality"}, ""),
              ("scene_started", 0.1, {"phase": "laterality"}, "laterality")]
    events += [("trial", 1.0 + k, {"index": k, "block": 0, "correct": True, "rt_s": 1.2,
                                   "side": "left"}, "laterality") for k in range(logged - 2)]
    bus = EventBus(sid, [log])
    for n, (kind, t, data, scene) in enumerate(events):
        event = bus.emit(kind, t, data, scene)
        if n < stored:
            sink.put(event)
    bus.close()
    sink.close()


def test_the_event_in_flight_is_recovered_from_the_log(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    try:
        _log_session(tmp_path, db, "a1b2c3d4", stored=5, logged=6)   # 4 trials stored, 1 not
        _log_session(tmp_path, db, "e5f6a7b8", stored=0, logged=4)   # nothing reached the db
        closed = {c.session: c for c in close_interrupted(db, PATIENT, tmp_path)}
        assert (closed["a1b2c3d4"].trials, closed["a1b2c3d4"].recovered) == (4, 1)
        assert (closed["e5f6a7b8"].trials, closed["e5f6a7b8"].recovered) == (2, 2)
        assert "was interrupted" in closed["a1b2c3d4"].line()
        for s in q.list_sessions(db, PATIENT):
            assert s["reason_ended"] == INTERRUPTED and s["ended"] is not None
        assert close_interrupted(db, PATIENT, tmp_path) == []           # nothing left open
    finally:
        db.close()
