"""A patient's GMI program across sessions: kept in the records, gated after each session.

* :func:`save_program` / :func:`load_program`: the whole :class:`~vrgmi.program.Program`
  (phase, steps, gate criteria, overrides) as JSON in a new ``programs`` row (the newest row
  is the program in force; older rows are its history);
* :func:`session_summaries`: the per-session summaries that :func:`vrgmi.program.gate`
  reads, rebuilt from the stored sessions, scene runs, trials and questionnaires (a session
  that crashed keeps what it measured; the next start closes it with reason ``interrupted``,
  :mod:`vrgmi.records.interrupted`, and the gate does not count it);
* :func:`close_session`: after a session, gate the patient's history, record the decision
  (a ``gate_decisions`` row, as a ``gate_decision`` event would) and move the saved program
  to the next phase when every criterion is met.

Every failure is one line: :class:`~vrgmi.records.db.RecordsError`,
:class:`~vrgmi.records.queries.UnknownPatient`, :class:`~vrgmi.program.ProgramError`.
See docs/program.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from datetime import date, datetime, time, timezone
from typing import Any

from sqlalchemy import select

from vrgmi.program import GateDecision, Program, ProgramError, advance_phase, \
    check_program, gate, program_from_dict
from vrgmi.records.db import Database
from vrgmi.records.queries import as_utc, patient_sessions, require_patient
from vrgmi.records.schema import GateDecision as GateDecisionRow
from vrgmi.records.schema import QuestionnaireAnswer, SceneRun, Session, Trial, check_patient_id
from vrgmi.records.schema import Program as ProgramRow
from vrgmi.session import session_summary
from vrgmi.settings import NormsSettings, SafetySettings


def _require_patient(s: Any, patient_id: str) -> None:
    require_patient(s, patient_id, " (a session of theirs creates them)")


def _plain(value: Any) -> Any:
    """``value`` as the JSON column gives it back (tuples as lists, keys as text)."""
    return json.loads(json.dumps(value, default=str))


def _program_row(program: Program) -> ProgramRow:
    return ProgramRow(patient_id=program.patient, phase=program.phase,
                      sessions_per_day=int(program.sessions_per_day),
                      minutes_per_session=float(program.minutes_per_session),
                      gating=_plain({"laterality": dataclasses.asdict(program.laterality),
                                     "imagery": dataclasses.asdict(program.imagery)}),
                      phase_started=datetime.combine(program.phase_started, time(),
                                                     tzinfo=timezone.utc),
                      spec=_plain(program.as_dict()))


def _newest(s: Any, patient_id: str) -> ProgramRow | None:
    return s.scalars(select(ProgramRow).where(ProgramRow.patient_id == patient_id)
                     .order_by(ProgramRow.id.desc()).limit(1)).first()


def save_program(db: Database, program: Program) -> None:
    """Put ``program`` in force for its patient (a new row; the old ones stay as history).

    The patient must be in the records (:class:`UnknownPatient` otherwise); a bad program
    value is a one-line :class:`~vrgmi.program.ProgramError`."""
    check_program(program)
    row = _program_row(program)
    with db.session() as s:
        _require_patient(s, program.patient)
        s.add(row)


def _from_columns(row: ProgramRow) -> dict[str, Any]:
    """A program written by ``queries.set_program`` (no ``spec``): its columns, and the
    gate criteria found in ``gating``."""
    data: dict[str, Any] = {"patient": row.patient_id, "phase": row.phase,
                            "phase_started": as_utc(row.phase_started).date().isoformat(),
                            "sessions_per_day": row.sessions_per_day,
                            "minutes_per_session": row.minutes_per_session}
    for name in ("laterality", "imagery"):
        if isinstance((row.gating or {}).get(name), dict):
            data[name] = row.gating[name]
    return data


def load_program(db: Database, patient_id: str) -> Program | None:
    """The patient's program in force (the newest saved), or None when they have none (or
    are not in the records yet)."""
    check_patient_id(patient_id)
    with db.session() as s:
        row = _newest(s, patient_id)
        if row is None:
            return None
        data = dict(row.spec) if row.spec else _from_columns(row)
    data["patient"] = patient_id
    try:
        return program_from_dict(data, "program")
    except ProgramError as exc:
        raise ProgramError(f"records: the program of {patient_id} cannot be used: {exc}") \
            from None


# --- per-session summaries --------------------------------------------------------------------
def _wall(dt: datetime | None) -> float | None:
    return None if dt is None else as_utc(dt).timestamp()


def _event(kind: str, t: float, data: dict[str, Any], session: str, wall: float | None,
           scene: str = "") -> dict[str, Any]:
    return {"kind": kind, "t": t, "data": data, "scene": scene, "session": session,
            "wall": wall}


def session_summaries(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """The patient's per-session summaries, oldest first, exactly as
    :func:`vrgmi.session.session_summary` makes them from the session's events (the
    events are rebuilt from the stored rows: the session, then each scene run with its
    trials, the questionnaires, the end). ``[]`` for a patient not in the records."""
    check_patient_id(patient_id)
    with db.session() as s:
        sessions = patient_sessions(s, patient_id)
        if not sessions:
            return []
        ids = [r.id for r in sessions]
        runs: dict[str, list[SceneRun]] = defaultdict(list)
        for run in s.scalars(select(SceneRun).where(SceneRun.session_id.in_(ids))
                             .order_by(SceneRun.id)):
            runs[run.session_id].append(run)
        trials: dict[int, list[Trial]] = defaultdict(list)
        for trial in s.scalars(select(Trial).where(Trial.session_id.in_(ids))
                               .order_by(Trial.id)):
            trials[trial.scene_run_id].append(trial)
        answers: dict[str, list[QuestionnaireAnswer]] = defaultdict(list)
        for q in s.scalars(select(QuestionnaireAnswer)
                           .where(QuestionnaireAnswer.session_id.in_(ids))
                           .order_by(QuestionnaireAnswer.id)):
            answers[q.session_id].append(q)
        out = []
        for row in sessions:
            sid = row.id
            events = [_event("session_started", 0.0, {"patient": row.patient_id,
                                                      "phase": row.phase, "seed": row.seed},
                             sid, _wall(row.started))]
            for run in runs[sid]:
                events.append(_event("scene_started", run.t_start, {"phase": run.phase},
                                     sid, _wall(run.started), run.scene))
                events += [_event("trial", t.t, t.data, sid, _wall(t.completed), t.scene)
                           for t in trials[run.id]]
                if run.ended is not None:
                    events.append(_event("scene_finished", run.t_end or 0.0,
                                         {"reason": run.reason}, sid, _wall(run.ended),
                                         run.scene))
            events += [_event("questionnaire", q.t, {"instrument": q.instrument,
                                                     "moment": q.moment, "answers": q.answers,
                                                     "scores": q.scores}, sid,
                              _wall(q.answered)) for q in answers[sid]]
            if row.ended is not None:
                events.append(_event("session_finished", 0.0, {
                    "reason": row.reason_ended, "minutes": row.minutes}, sid, _wall(row.ended)))
            out.append(session_summary(events))
        return out


# --- after a session ----------------------------------------------------------------------
def _decision_uid(program: Program, session: str) -> str:
    return hashlib.sha1(f"close_session:{program.patient}:{session}:{program.phase}"
                        .encode()).hexdigest()


def close_session(db: Database, program: Program, summary: dict[str, Any],
                  by: str = "vrgmi", today: date | None = None,
                  flare_hold_days: int = SafetySettings.flare_hold_days,
                  norms: NormsSettings | None = None) -> GateDecision:
    """Gate ``program`` over the patient's stored history plus this session's ``summary``
    (:func:`vrgmi.session.session_summary`; it replaces a stored summary of the same
    session), record the decision as a ``gate_decisions`` row (``by`` decided it, never an
    override) and save the program in force afterwards: moved to the next phase, started
    on the session's date, when every criterion is met; else ``program`` as it is (a new
    row only when it differs from the saved one). Closing the same session in the same
    phase twice records nothing new. ``norms``: the ``[norms]`` settings the laterality
    gate judges against. Returns the decision; :func:`load_program` gives the program now
    in force."""
    check_program(program)
    session = str(summary.get("session") or "")
    history = [h for h in session_summaries(db, program.patient) if h.get("session") != session]
    if summary.get("date") is not None:
        history.append(summary)
    decision = gate(program, history, today, flare_hold_days, norms)
    day = today or (date.fromisoformat(summary["date"]) if summary.get("date") else date.today())
    in_force = advance_phase(program, day) if decision.advance else program
    uid = _decision_uid(program, session)
    d = decision.as_dict()
    with db.session() as s:
        _require_patient(s, program.patient)
        if s.scalar(select(GateDecisionRow.id).where(GateDecisionRow.event_uid == uid)):
            return decision
        s.add(GateDecisionRow(
            patient_id=program.patient,
            session_id=session if session and s.get(Session, session) is not None else None,
            event_uid=uid, phase=decision.phase, advance=decision.advance, override=False,
            criteria=_plain(d["criteria"]), next_phase=decision.next_phase,
            reasons=list(decision.reasons), by=str(by)[:64]))
        stored = _newest(s, program.patient)
        if stored is None or stored.spec != _plain(in_force.as_dict()):
            s.add(_program_row(in_force))
    return decision
