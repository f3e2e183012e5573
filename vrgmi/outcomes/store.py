"""The outcome plans and answers in the records database (tables ``outcome_plans`` and
``outcome_answers``, migration 0004), and what the companion, the exports and the reports
read from them.

* :func:`get_plan` / :func:`set_plan`: the battery a therapist chose for a patient, the
  follow-up months and the end of treatment;
* :func:`record_visit`: a visit's answers (every measure checked and scored before any is
  stored; the end visit sets the end of treatment when none was set);
* :func:`patient_outcomes`: one patient's plan, visits (due, overdue...), answers, change
  from baseline and laterality retention after the end of treatment;
* :func:`clinic_patients` / :func:`due_visits` / :func:`clinic_outcomes`: every patient's
  record, the visits due, and the responder analysis.

Every failure is one line (:class:`~vrgmi.outcomes.battery.OutcomeError`,
:class:`~vrgmi.records.queries.UnknownPatient`, :class:`~vrgmi.records.db.RecordsError`).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, select

from vrgmi.outcomes.analysis import clinic_summary, patient_change
from vrgmi.outcomes.battery import MEASURES, OutcomeError, check_measures, score
from vrgmi.outcomes.schedule import (END, Rules, check_timepoint, order_key, parse_months,
                                     timepoints, visits)
from vrgmi.records.db import Database
from vrgmi.records.queries import as_utc, progress, require_patient
from vrgmi.records.schema import OutcomeAnswer, OutcomePlan, Patient, Program, Session, \
    check_patient_id

MAX_BY = 64


def _plan_dict(row: OutcomePlan | None, rules: Rules) -> dict[str, Any]:
    if row is None:
        return {"measures": list(MEASURES), "followup_months": list(rules.followup_months),
                "treatment_ended": None}
    return {"measures": list(row.measures), "followup_months": list(row.followup_months),
            "treatment_ended": row.treatment_ended.isoformat() if row.treatment_ended else None}


def get_plan(db: Database, patient_id: str, rules: Rules = Rules()) -> dict[str, Any]:
    """The patient's plan: ``measures``, ``followup_months``, ``treatment_ended`` (ISO date or
    None); every measure and the rules' months when none was set."""
    with db.session() as s:
        require_patient(s, patient_id)
        return _plan_dict(s.get(OutcomePlan, patient_id), rules)


def _day(value: Any, what: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise OutcomeError(f"outcomes: {what} must be a date YYYY-MM-DD")


_UNSET: Any = object()


def set_plan(db: Database, patient_id: str, *, measures: Any = _UNSET,
             followup_months: Any = _UNSET, treatment_ended: Any = _UNSET,
             rules: Rules = Rules()) -> dict[str, Any]:
    """Change the given parts of the patient's plan (``treatment_ended``: a date, an ISO
    date, or None to reopen treatment); returns the plan."""
    clean: dict[str, Any] = {}
    if measures is not _UNSET:
        clean["measures"] = check_measures(measures)
    if followup_months is not _UNSET:
        clean["followup_months"] = list(parse_months(followup_months))
    if treatment_ended is not _UNSET:
        clean["treatment_ended"] = (None if treatment_ended is None
                                    else _day(treatment_ended, "treatment_ended"))
    with db.session() as s:
        require_patient(s, patient_id)
        row = s.get(OutcomePlan, patient_id)
        if row is None:
            base = _plan_dict(None, rules)
            row = OutcomePlan(patient_id=patient_id, measures=base["measures"],
                              followup_months=base["followup_months"])
            s.add(row)
        for key, value in clean.items():
            setattr(row, key, value)
        row.updated = datetime.now(timezone.utc)
        s.flush()
        return _plan_dict(row, rules)


def record_visit(db: Database, patient_id: str, timepoint: Any, answers: Any, by: str,
                 when: datetime | None = None, rules: Rules = Rules()) -> list[dict[str, Any]]:
    """Store a visit: ``answers`` maps measure names to their answers (see
    :func:`vrgmi.outcomes.battery.score`). Every measure is scored first; nothing is stored
    if one is wrong. Returns the stored rows."""
    check_patient_id(patient_id)
    tp = check_timepoint(timepoint)
    if not isinstance(answers, dict) or not answers or len(answers) > len(MEASURES):
        raise OutcomeError(f"outcomes: a visit's answers map 1-{len(MEASURES)} measures to "
                           "their answers")
    scored = {mid: score(mid, a) for mid, a in answers.items()}
    when = as_utc(when) if when is not None else datetime.now(timezone.utc)
    by = "".join(c for c in str(by) if c.isprintable())[:MAX_BY]
    with db.session() as s:
        require_patient(s, patient_id)
        rows = [OutcomeAnswer(patient_id=patient_id, timepoint=tp, measure=mid, answered=when,
                              by=by, answers=clean, scores=scores)
                for mid, (clean, scores) in scored.items()]
        s.add_all(rows)
        if tp == END:
            plan = s.get(OutcomePlan, patient_id)
            if plan is None:
                base = _plan_dict(None, rules)
                plan = OutcomePlan(patient_id=patient_id, measures=base["measures"],
                                   followup_months=base["followup_months"])
                s.add(plan)
            if plan.treatment_ended is None:
                plan.treatment_ended = when.date()
        s.flush()
        return [_answer_dict(r) for r in rows]


def _answer_dict(r: OutcomeAnswer) -> dict[str, Any]:
    return {"id": r.id, "timepoint": r.timepoint, "measure": r.measure,
            "answered": as_utc(r.answered).isoformat(), "by": r.by, "answers": r.answers,
            "scores": r.scores}


def patient_answers(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """Every outcome answer of the patient, oldest first."""
    with db.session() as s:
        require_patient(s, patient_id)
        return [_answer_dict(r) for r in s.scalars(
            select(OutcomeAnswer).where(OutcomeAnswer.patient_id == patient_id)
            .order_by(OutcomeAnswer.answered, OutcomeAnswer.id))]


def outcome_record(answers: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """``{time point: {"measure.score": value}}`` from answers (oldest first): the latest
    answer of each measure at each time point counts."""
    out: dict[str, dict[str, float]] = {}
    for a in answers:
        for key, value in a["scores"].items():
            out.setdefault(a["timepoint"], {})[f"{a['measure']}.{key}"] = value
    return out


def _done(answers: list[dict[str, Any]]) -> dict[str, date]:
    done: dict[str, date] = {}
    for a in answers:
        done.setdefault(a["timepoint"], datetime.fromisoformat(a["answered"]).date())
    return done


def _patient_state(s: Any, patient_id: str) -> dict[str, Any]:
    """The program in force (phase and its start) and the latest session's day."""
    prog = s.scalars(select(Program).where(Program.patient_id == patient_id)
                     .order_by(Program.id.desc()).limit(1)).first()
    last = s.scalar(select(func.max(Session.started)).where(Session.patient_id == patient_id))
    return {"phase": prog.phase if prog else None,
            "phase_started": as_utc(prog.phase_started).date() if prog else None,
            "last_session": as_utc(last).date() if last else None}


def _visits(plan: dict[str, Any], answers: list[dict[str, Any]], state: dict[str, Any],
            today: date, rules: Rules) -> list[dict[str, Any]]:
    done = _done(answers)
    active = [d for d in (state["last_session"], *done.values()) if d is not None]
    ended = plan["treatment_ended"]
    return [v.as_dict() for v in visits(
        done, today, rules, phase=state["phase"], phase_started=state["phase_started"],
        treatment_ended=date.fromisoformat(ended) if ended else None,
        months=tuple(plan["followup_months"]), last_active=max(active) if active else None)]


def laterality_retention(db: Database, patient_id: str,
                         ended: date | None) -> dict[str, Any]:
    """Laterality recognition at the end of treatment and after it (a laterality block at a
    follow-up visit shows retention): ``end`` is the last session with laterality trials on
    or before ``ended``, ``after`` every later one; each ``{session, date, sides: {side:
    {accuracy, rt_s, n, probe}}}`` (the probe's figures when the session had one,
    :func:`vrgmi.records.queries.progress`). Empty until treatment has ended."""
    if ended is None:
        return {"end": None, "after": []}
    sessions: dict[str, dict[str, Any]] = {}
    for row in progress(db, patient_id)["laterality"]:
        day = datetime.fromisoformat(row["started"]).date()
        entry = sessions.setdefault(row["session"], {"session": row["session"],
                                                     "date": day.isoformat(), "sides": {}})
        entry["sides"][row["side"]] = {k: row[k] for k in ("accuracy", "rt_s", "n", "probe")}
    before = [e for e in sessions.values() if date.fromisoformat(e["date"]) <= ended]
    return {"end": before[-1] if before else None,
            "after": [e for e in sessions.values() if date.fromisoformat(e["date"]) > ended]}


def patient_outcomes(db: Database, patient_id: str, today: date | None = None,
                     rules: Rules = Rules()) -> dict[str, Any]:
    """One patient: ``plan``, ``visits`` (each time point's date and status), ``answers``,
    ``record``, ``change`` (:func:`vrgmi.outcomes.analysis.patient_change`) and
    ``laterality`` (:func:`laterality_retention`)."""
    today = today or date.today()
    with db.session() as s:
        require_patient(s, patient_id)
        plan = _plan_dict(s.get(OutcomePlan, patient_id), rules)
        state = _patient_state(s, patient_id)
    answers = patient_answers(db, patient_id)
    record = outcome_record(answers)
    ended = plan["treatment_ended"]
    return {"patient": patient_id, "plan": plan, "today": today.isoformat(),
            "visits": _visits(plan, answers, state, today, rules), "answers": answers,
            "record": record, "change": patient_change(record),
            "laterality": laterality_retention(
                db, patient_id, date.fromisoformat(ended) if ended else None)}


def clinic_patients(db: Database, today: date | None = None, rules: Rules = Rules(),
                    ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Every patient (or those in ``ids``: each a valid id, else a one-line error) with
    ``record``, ``visits`` and ``missed`` (the time points they dropped out at)."""
    today = today or date.today()
    ids = None if ids is None else [check_patient_id(i) for i in ids]
    with db.session() as s:
        pids = list(s.scalars(select(Patient.id).order_by(Patient.id)))
        plans = {r.patient_id: r for r in s.scalars(select(OutcomePlan))}
        states = {pid: _patient_state(s, pid) for pid in pids if ids is None or pid in ids}
        rows = list(s.scalars(select(OutcomeAnswer).order_by(OutcomeAnswer.answered,
                                                             OutcomeAnswer.id)))
    answers: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        answers.setdefault(r.patient_id, []).append(_answer_dict(r))
    out = []
    for pid, state in states.items():
        plan = _plan_dict(plans.get(pid), rules)
        mine = answers.get(pid, [])
        vis = _visits(plan, mine, state, today, rules)
        out.append({"id": pid, "phase": state["phase"], "plan": plan, "visits": vis,
                    "record": outcome_record(mine),
                    "missed": [v["timepoint"] for v in vis if v["status"] == "missed"]})
    return out


def due_visits(patients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The visits due or overdue, most urgent first: ``{patient, timepoint, label, date,
    status}``."""
    rows = [{"patient": p["id"], **v} for p in patients for v in p["visits"]
            if v["status"] in ("due", "overdue")]
    return sorted(rows, key=lambda r: (r["status"] != "overdue", r["date"] or "",
                                       order_key(r["timepoint"]), r["patient"]))


def clinic_outcomes(db: Database, today: date | None = None, rules: Rules = Rules(),
                    ids: list[str] | None = None) -> dict[str, Any]:
    """The clinic's (or the ``ids`` patients') responder analysis, visits due and each
    patient's record: ``summary``, ``due``, ``patients``."""
    patients = clinic_patients(db, today, rules, ids)
    months = sorted({m for p in patients for m in p["plan"]["followup_months"]}
                    or set(rules.followup_months))
    tps = timepoints(tuple(months))[1:]
    return {"today": (today or date.today()).isoformat(),
            "summary": clinic_summary(patients, rules, tps), "due": due_visits(patients),
            "patients": patients}
