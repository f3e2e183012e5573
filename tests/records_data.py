"""A deterministic patient history for the records and export tests (and the doc images).

``fill_history(sink_or_writer, ...)`` puts the events of ``n`` sessions, one a day from
2026-03-02 09:00 UTC, for patient ``pid``. Per session k (0-based):

* the session's seed (vrgmi.seeding) SEED0 + k, past 2**53 like a real one;
* NRS before = 6 - k // 2, after = NRS before - 1 (so every session lowers pain by 1);
* laterality: 20 probe trials (the block the gate judges) alternating left (even index) /
  right stimuli; the first
  ``5 + k // 2`` (left) and ``6 + k // 2`` (right) of each side's 10 are correct (capped at
  10); RT of trial i is
  ``2.8 - 0.1 k + 0.01 i`` s (left) and the same + 0.2 s (right);
* from session 3: imagery, 4 trials with imagined 4.0 + 0.1 i s and executed 3.2 s;
  KVIQ-10 after it (visual 15 + k, kinesthetic 12 + k);
* from session 6: mirror task ``mirror_reach``, 5 trials scoring 0.5 + 0.05 k;
* SSQ after every session: item 1 (general discomfort) rated 1, all others 0.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from vrgmi.events import Event

DAY0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc).timestamp()
#: the first session's seed: 63 bits, more than a browser's number holds exactly
SEED0 = 2 ** 62 + 12345


def _events(pid: str, n: int, side: str = "left", level: str = "transradial") -> list[Event]:
    out: list[Event] = []
    for k in range(n):
        sid = f"{pid}-s{k + 1:02d}"
        wall = DAY0 + 86400.0 * k
        t = 0.0

        def ev(kind: str, data: dict[str, Any], scene: str = "") -> None:
            nonlocal t, wall
            out.append(Event(kind, t, data, scene, sid, wall))
            t += 1.5
            wall += 1.5

        phase = "laterality" if k < 3 else "imagery" if k < 6 else "mirror"
        ev("session_started", {"patient": pid, "phase": phase, "program": {"phase": phase},
                               "side": side, "level": level, "seed": SEED0 + k})
        pre = 6 - k // 2
        ev("questionnaire", {"instrument": "nrs", "moment": "pre", "answers": [pre],
                             "scores": {"nrs": pre}}, "nrs")
        ev("scene_started", {"phase": "laterality", "params": {"max_rotation_deg": 90}},
           "laterality")
        for i in range(20):
            stim = "left" if i % 2 == 0 else "right"
            correct_per_side = min(10, (5 if stim == "left" else 6) + k // 2)
            rt = 2.8 - 0.1 * k + 0.01 * i + (0.2 if stim == "right" else 0.0)
            ev("trial", {"index": i, "block": i // 10, "probe": True, "side": stim,
                         "correct": i // 2 < correct_per_side, "rt_s": round(rt, 4),
                         "rotation_deg": 30 * (i % 4)}, "laterality")
        ev("block_finished", {"block": 1, "trials": 20}, "laterality")
        ev("scene_finished", {"summary": {"trials": 20}, "reason": "completed"}, "laterality")
        if k >= 3:
            ev("scene_started", {"phase": "imagery", "params": {}}, "imagery")
            for i in range(4):
                ev("trial", {"index": i, "block": 0, "imagined_s": round(4.0 + 0.1 * i, 3),
                             "executed_s": 3.2}, "imagery")
            ev("scene_finished", {"summary": {}, "reason": "completed"}, "imagery")
            ev("questionnaire", {"instrument": "kviq", "moment": "post", "answers": [3] * 10,
                                 "scores": {"visual": 15 + k, "kinesthetic": 12 + k}}, "kviq")
        if k >= 6:
            ev("scene_started", {"phase": "mirror", "params": {}}, "mirror_reach")
            ev("param_changed", {"name": "speed", "old": 1, "new": 2, "by": "therapist"},
               "mirror_reach")
            for i in range(5):
                ev("trial", {"index": i, "block": 0, "score": round(0.5 + 0.05 * k, 3),
                             "watch_share": round(0.6 + 0.05 * k, 3)}, "mirror_reach")
            ev("scene_finished", {"summary": {}, "reason": "completed"}, "mirror_reach")
        ssq = [1] + [0] * 15
        ev("questionnaire", {"instrument": "ssq", "moment": "post", "answers": ssq,
                             "scores": {"nausea": 9.54, "oculomotor": 7.58,
                                        "disorientation": 0.0, "total": 7.48}}, "ssq")
        ev("questionnaire", {"instrument": "nrs", "moment": "post", "answers": [pre - 1],
                             "scores": {"nrs": pre - 1}}, "nrs")
        if k == 2:
            ev("gate_decision", {"phase": "laterality", "advance": True,
                                 "criteria": {"accuracy": 0.8}, "override": False})
        ev("session_paused", {"reason": "break"})
        if k == 3:
            ev("recenter", {"source": "companion", "yaw_deg": 0.0, "tracker": ""})
            ev("body_turn_suspected", {"angle_deg": 45.0, "evidence": "limb"})
            ev("body_turn_cleared", {"reason": "turned back"})
            ev("body_turned", {"from_deg": 0.0, "to_deg": 45.0, "source": "tracker"})
            ev("progression", {"before": {}, "after": {"mirror.level": 2}, "pain_flare": False})
        if k == 5:
            ev("pain_check", {"scene": "laterality"})
            ev("pain_flare", {"nrs_pre": 3, "nrs": 6, "moment": "check", "rise": 3,
                              "threshold": 3, "action": "hold"})
            ev("ssq_alert", {"moment": "pre", "reasons": ["severe nausea"], "baseline": None,
                             "advice": "consider ending or shortening this session"})
            ev("dose_warning", {"seconds_left": 120.0, "limit_min": 15.0})
            ev("phase_step_back", {"phase": "imagery", "to": "laterality", "by": "th",
                                   "reason": "flare", "step_back": True})
            ev("patient_stop", {"source": "menu_hold", "by": "patient", "scene": "imagery"})
        ev("session_resumed", {})
        ev("session_finished", {"reason": "completed", "minutes": 15.0})
    return out


def fill_history(sink: Any, pid: str = "P01", n: int = 8, side: str = "left",
                 level: str = "transradial") -> int:
    """Put ``n`` sessions of events for ``pid`` into ``sink`` (``put``); returns the count."""
    events = _events(pid, n, side, level)
    for e in events:
        sink.put(e)
    return len(events)
