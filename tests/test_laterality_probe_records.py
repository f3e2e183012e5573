"""The progress series the reports chart against the norms use the probe, as the gate does:
a session's staircase blocks (held near 80 % by design) never stand in for its probe."""
from __future__ import annotations

import pytest

from vrgmi.events import Event
from vrgmi.records import RecordSink, open_database
from vrgmi.records import queries as q
from vrgmi.records.programs import session_summaries


def _session(sid: str, day: int, probe: bool) -> list[Event]:
    """20 probe trials (or none) at 90 %, RT 1.5 s, then 20 training trials at 70 %, 2.4 s."""
    wall = 1_780_000_000.0 + 86400.0 * day
    out = [Event("session_started", 0.0, {"patient": "P01", "phase": "laterality",
                                          "side": "left", "level": "transradial",
                                          "seed": 99}, "", sid, wall),
           Event("scene_started", 0.0, {"phase": "laterality", "params": {}}, "laterality",
                 sid, wall)]
    blocks = ([("probe", 0.9, 1.5)] if probe else []) + [("training", 0.7, 2.4)]
    for b, (kind, acc, rt) in enumerate(blocks):
        for i in range(20):
            out.append(Event("trial", 1.0 + i, {
                "index": i, "block": b, "probe": kind == "probe", "side": ("left", "right")[i % 2],
                "correct": i // 2 < acc * 10, "rt_ms": 1000.0 * rt, "rotation_deg": 60.0},
                "laterality", sid, wall + i))
    out.append(Event("session_finished", 50.0, {"reason": "completed", "minutes": 12.0}, "",
                     sid, wall + 60.0))
    return out


def test_progress_and_summaries_judge_the_probe(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'r.sqlite3'}")
    sink = RecordSink(db, spill_path=tmp_path / "spill.jsonl")
    for e in _session("s1", 0, probe=True) + _session("s2", 1, probe=False):
        sink.put(e)
    sink.close()
    rows = {(r["session"], r["side"]): r for r in q.progress(db, "P01")["laterality"]}
    assert rows[("s1", "left")]["probe"] and rows[("s1", "left")]["n"] == 10
    assert rows[("s1", "left")]["accuracy"] == 0.9 and rows[("s1", "left")]["rt_s"] == 1.5
    assert not rows[("s2", "left")]["probe"] and rows[("s2", "left")]["accuracy"] == 0.7
    first, second = session_summaries(db, "P01")
    assert first["laterality"]["accuracy"] == {"left": 0.9, "right": 0.9}
    assert first["laterality_training"]["rt_s"] == {"left": pytest.approx(2.4),
                                                    "right": pytest.approx(2.4)}
    assert second["laterality"] is None and first["seed"] == 99
    db.close()
