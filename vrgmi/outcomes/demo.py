"""The headless demo's outcome data: the demo patient's baseline battery, and a few peers
whose 6-week programs ended months ago, with their sessions (pain NRS before and after),
battery answers at baseline, each phase change, the end and the follow-ups, so the clinic
report shows something real. Seeded: every run gives the same answers (dated back from
``today``). One peer stops coming after the end visit (a drop-out at the follow-ups), one
has a follow-up overdue and one a follow-up due, so the companion's list has entries."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from vrgmi.events import Event
from vrgmi.export.clinic_report import export_clinic
from vrgmi.outcomes.schedule import BASELINE, END, PHASE_PREFIX, add_months, followup
from vrgmi.outcomes.store import patient_answers, record_visit, set_plan
from vrgmi.program import Program
from vrgmi.records.db import Database
from vrgmi.records.programs import save_program
from vrgmi.records.queries import upsert_patient
from vrgmi.records.store import EventWriter, event_uid

#: peer id -> (days since the program started, follow-ups done (months), response share)
PEERS: dict[str, tuple[int, tuple[int, ...], float]] = {
    "demo-p01": (260, (1, 3, 6), 0.62),
    "demo-p02": (230, (1, 3), 0.45),        # the 6-month visit is not due yet
    "demo-p03": (180, (1,), 0.30),          # 3-month visit overdue
    "demo-p04": (140, (1,), 0.12),          # 3-month visit due
    "demo-p05": (300, (), 0.35),            # stopped coming after the end visit
    "demo-p06": (120, (1,), 0.55),
}
WEEK_DAYS = 14                   # each phase about two weeks (CLINICAL.md)
BY = "demo"


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12, 0), tzinfo=timezone.utc)


def _battery(rng: np.random.Generator, base: float, relief: float,
             sessions_done: float) -> dict[str, Any]:
    """Every measure's answers for a patient whose pain is ``relief`` (share) below ``base``;
    ``sessions_done`` (0..1) scales function and wear."""
    avg = int(np.clip(round(base * (1 - relief) + rng.normal(0, 0.3)), 0, 10))
    worst = int(np.clip(avg + 2 + rng.integers(0, 2), 0, 10))
    pcs_level = 2.6 * (1 - 0.8 * relief)
    pcs = {str(k): int(np.clip(round(pcs_level + rng.normal(0, 0.6)), 0, 4)) for k in range(1, 14)}
    return {
        "pain": {"average": avg, "worst": worst},
        "episodes": {"per_day": int(max(0, round(8 * (1 - relief) + rng.normal(0, 1)))),
                     "duration_min": int(max(1, round(20 * (1 - 0.7 * relief))))},
        "sensation": {"phantom_sensation": int(np.clip(round(6 + rng.normal(0, 1)), 0, 10)),
                      "residual_pain": int(np.clip(round(base * 0.5 * (1 - relief)), 0, 10))},
        "interference": {k: int(np.clip(round(base * 0.8 * (1 - relief) + rng.normal(0, 0.7)),
                                        0, 10)) for k in ("sleep", "mood", "activity")},
        "pcs": pcs,
        "psfs": {"activities": [
            {"name": name,
             "rating": int(np.clip(round(r + 4 * relief + 1.5 * sessions_done), 0, 10))}
            for name, r in (("Carrying shopping", 3), ("Sleeping through the night", 4),
                            ("Driving", 5))]},
        "medication": {"rows": [{"name": "gabapentin", "dose": "300 mg",
                                 "frequency": "3 times a day" if relief < 0.4 else "at night"}],
                       "text": "paracetamol when needed"},
        "prosthesis": {"hours": float(np.clip(round(2 * (6 + 4 * relief * sessions_done
                                                         + rng.normal(0, 0.5))) / 2, 0, 24))},
    }


def _sessions(db: Database, pid: str, start: date, base: float, share: float,
              rng: np.random.Generator) -> None:
    """Three weeks of sessions (every other day) with the pain NRS before and after."""
    writer = EventWriter()
    days = 3 * WEEK_DAYS
    with db.session() as s:
        for k, day in enumerate(range(0, days, 2)):
            w = day / days
            sid = f"{pid}-s{k + 1:02d}"
            wall = _noon(start + timedelta(days=day)).timestamp()
            phase = ("laterality", "imagery", "mirror")[min(2, day // WEEK_DAYS)]
            pre = int(np.clip(round(base * (1 - share * w) + rng.normal(0, 0.5)), 0, 10))
            post = max(0, pre - int(rng.integers(0, 2)))
            for i, (kind, data) in enumerate((
                    ("session_started", {"patient": pid, "phase": phase, "side": "left",
                                         "level": "transradial", "program": {"phase": phase}}),
                    ("questionnaire", {"instrument": "nrs", "moment": "pre", "answers": [pre],
                                       "scores": {"nrs": pre}}),
                    ("questionnaire", {"instrument": "nrs", "moment": "post", "answers": [post],
                                       "scores": {"nrs": post}}),
                    ("session_finished", {"reason": "completed", "minutes": 15.0}))):
                e = Event(kind, 2.0 * i, data, "nrs" if kind == "questionnaire" else "", sid,
                          wall + 600.0 * i)
                writer.write(s, e, event_uid(e))


def fill_demo_outcomes(db: Database, patient_id: str, today: date | None = None,
                       say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The demo patient's baseline (an hour ago: before the demo's sessions) and the peers'
    programs, sessions and outcome visits; returns ``{"patients": [...], "answers": n}``.
    A patient who already has outcome answers (a demo run before on the same records) is
    left as they are."""
    today = today or date.today()
    rng = np.random.default_rng(17)
    (say or (lambda _m: None))(f"demo: outcomes of {patient_id} and {len(PEERS)} peers")
    baseline = _battery(rng, 6.0, 0.0, 0.0)
    n = 0
    if not patient_answers(db, patient_id):
        n += len(record_visit(db, patient_id, BASELINE, baseline, BY,
                              datetime.now(timezone.utc) - timedelta(hours=1)))
    for pid, (ago, done, share) in PEERS.items():
        start = today - timedelta(days=ago)
        base = float(rng.uniform(5.0, 8.0))
        upsert_patient(db, pid, side="left", level="transradial")
        if patient_answers(db, pid):
            continue
        end = start + timedelta(days=3 * WEEK_DAYS)
        save_program(db, Program(pid, "mirror",
                                 phase_started=start + timedelta(days=2 * WEEK_DAYS)))
        _sessions(db, pid, start, base, share, rng)
        set_plan(db, pid, treatment_ended=end)
        visits = [(BASELINE, start, 0.0, 0.0),
                  (PHASE_PREFIX + "imagery", start + timedelta(days=WEEK_DAYS), 0.4, 0.33),
                  (PHASE_PREFIX + "mirror", start + timedelta(days=2 * WEEK_DAYS), 0.75, 0.67),
                  (END, end, 1.0, 1.0)]
        visits += [(followup(m), add_months(end, m), 1.0 - 0.03 * m, 1.0) for m in done]
        for tp, day, w, sessions_done in visits:
            n += len(record_visit(db, pid, tp, _battery(rng, base, share * w, sessions_done),
                                  BY, _noon(day)))
    return {"patients": [patient_id, *PEERS], "answers": n}


def run_demo_outcomes(db: Database, patient_id: str, out: Path,
                      say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """What the headless demo adds (``vrgmi.clinic.run_demo_sessions``): the outcome data
    of :func:`fill_demo_outcomes`, the clinic's outcomes report ``clinic-outcomes.pdf`` and
    its CSV tables in ``out``; returns the fill's figures and ``exports`` (paths)."""
    report = fill_demo_outcomes(db, patient_id, say=say)
    return {**report, "exports": [str(p) for p in export_clinic(db, out)]}
