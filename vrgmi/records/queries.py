"""What the companion, the CLI and the exports read from (and the few things they write to)
the records database. Every function takes an open :class:`~vrgmi.records.db.Database`,
returns JSON-ready dicts and lists (times as ISO 8601 UTC strings) and raises a one-line
:class:`~vrgmi.records.db.RecordsError` (:class:`UnknownPatient` for a missing patient).

Progress series (:func:`progress`) are per session, oldest first, so charts show the trend
(CLINICAL.md: a retest alone makes laterality 8-20% faster; one session proves nothing):

* laterality, per session and per *stimulus side*: accuracy (correct / answered) and the
  median response time of correct trials in the session's probe (the fixed-difficulty block
  the gate judges; all scored trials of a session without one), against the norm band
  (CLINICAL.md, NOI: accuracy >= 80 %, RT 2.0 +/- 0.5 s for hands and feet; the ``[norms]``
  settings through :func:`report_norms`); the
  affected - unaffected side difference per session (CLINICAL.md: patients with limb pain
  are slower for the affected side); RT by rotation angle in the first and the latest
  sessions (RT grows with the angle); medial and lateral RT per session (lateral slower
  when rotated about more than one axis), all with :mod:`vrgmi.laterality.analysis`;
* imagery: median mental-chronometry ratio (imagined / executed duration; near 1 is good
  imagery) and the KVIQ visual and kinesthetic ratings as the mean per rated item (1-5,
  comparable whatever the number of items rated), next to the totals;
* mirror: per session and task (scene), what every mirror trial carries: the success rate
  and the median time of the successful trials (a ``score``, which no built-in task emits,
  is averaged when present);
* NRS pain before and after each session (0-10); SSQ total and subscales.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import selectinload

from vrgmi.records.db import Database, RecordsError
from vrgmi.records.schema import (TABLES, CommandLog, GateDecision, OutcomeAnswer,
                                  OutcomePlan, Patient, Program, QuestionnaireAnswer, SceneRun,
                                  Session, SessionEvent, TherapistNote, Trial, check_patient_id)
from vrgmi.settings import NormsSettings


def report_norms(settings: NormsSettings | None = None) -> dict[str, float]:
    """The laterality norms the progress series carry for the charts, from the ``[norms]``
    settings (the one place they are defined; CLINICAL.md, NOI guidance for hands and
    feet): accuracy minimum, RT mean and spread, and how far left and right may differ."""
    s = settings or NormsSettings()
    return {"accuracy_min": s.accuracy_min, "rt_mean_s": s.rt_mean_s, "rt_sd_s": s.rt_sd_s,
            "max_side_rt_diff_s": s.max_side_rt_diff_s,
            "max_side_accuracy_diff": s.max_side_accuracy_diff}


#: the default norms (:func:`report_norms` of the default settings); pass others to progress()
NORMS: dict[str, float] = report_norms()
MAX_NOTE_CHARS = 10_000
MAX_AUDIT_ROWS = 1000


class UnknownPatient(RecordsError, LookupError):
    """No patient with that id in the records."""


#: scored trials only: practice trials are stored in block -1 (vrgmi.records.store) and
#: never counted, charted or judged
SCORED = Trial.block >= 0


def as_utc(dt: datetime) -> datetime:
    """``dt`` as timezone-aware UTC (SQLite hands datetimes back naive: they are UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC (see :func:`as_utc`)."""
    return None if dt is None else as_utc(dt).isoformat(timespec="seconds")


def require_patient(s: Any, patient_id: str, hint: str = "") -> Patient:
    """The patient row in ORM session ``s``; :class:`UnknownPatient` (``hint`` appended to
    its message) when there is none, :class:`PatientIdError` for an invalid id."""
    check_patient_id(patient_id)
    row = s.get(Patient, patient_id)
    if row is None:
        raise UnknownPatient(f"records: no patient {patient_id!r} in the records{hint}")
    return row


def patient_sessions(s: Any, patient_id: str) -> list[Session]:
    """The patient's session rows in ORM session ``s``, oldest first."""
    return list(s.scalars(select(Session).where(Session.patient_id == patient_id)
                          .order_by(Session.started, Session.id)))


def _in_force(p: Patient) -> Program | None:
    return p.programs[-1] if p.programs else None


# --- patients --------------------------------------------------------------------------------
def _patient_dict(p: Patient) -> dict[str, Any]:
    return {"id": p.id, "amputation_side": p.amputation_side,
            "amputation_level": p.amputation_level, "height_m": p.height_m,
            "segment_lengths": p.segment_lengths, "skin_tone": p.skin_tone,
            "limb_shape": dict(p.limb_shape or {}), "notes": p.notes,
            "created": iso(p.created)}


def _program_dict(pr: Program | None) -> dict[str, Any] | None:
    if pr is None:
        return None
    return {"phase": pr.phase, "sessions_per_day": pr.sessions_per_day,
            "minutes_per_session": pr.minutes_per_session, "gating": pr.gating,
            "phase_started": iso(pr.phase_started), "created": iso(pr.created)}


def list_patients(db: Database) -> list[dict[str, Any]]:
    """Every patient: id, side, level, ``sessions`` (count), ``last_session`` (ISO), ``phase``."""
    with db.session() as s:
        counts = {pid: (n, last) for pid, n, last in s.execute(
            select(Session.patient_id, func.count(Session.id), func.max(Session.started))
            .group_by(Session.patient_id))}
        out = []
        for p in s.scalars(select(Patient).options(selectinload(Patient.programs))
                           .order_by(Patient.id)):
            n, last = counts.get(p.id, (0, None))
            program = _in_force(p)
            out.append({"id": p.id, "amputation_side": p.amputation_side,
                        "amputation_level": p.amputation_level, "sessions": n,
                        "last_session": iso(last), "phase": program.phase if program else None})
        return out


def get_patient(db: Database, patient_id: str) -> dict[str, Any]:
    """One patient: their fields, ``program`` (the one in force, or None), ``sessions`` (count),
    ``trials`` (count) and ``last_session`` (ISO)."""
    with db.session() as s:
        p = require_patient(s, patient_id)
        out = _patient_dict(p)
        out["program"] = _program_dict(_in_force(p))
        out["sessions"] = s.scalar(select(func.count(Session.id))
                                   .where(Session.patient_id == patient_id))
        out["trials"] = s.scalar(select(func.count(Trial.id)).join(Session)
                                 .where(Session.patient_id == patient_id, SCORED))
        out["last_session"] = iso(s.scalar(select(func.max(Session.started))
                                           .where(Session.patient_id == patient_id)))
        return out


def upsert_patient(db: Database, patient_id: str, *, side: str | None = None,
                   level: str | None = None, height_m: float | None = None,
                   segment_lengths: dict[str, float] | None = None,
                   skin_tone: str | None = None, notes: str | None = None) -> dict[str, Any]:
    """Create the patient or update the given fields; returns the patient as a dict."""
    from vrgmi.settings import LOWER_LEVELS, UPPER_LEVELS
    if side is not None and side not in ("left", "right"):
        raise RecordsError(f"records: side {side!r} must be left or right")
    if level is not None and level not in UPPER_LEVELS + LOWER_LEVELS:
        raise RecordsError(f"records: level {level!r} is not an amputation level")
    if height_m is not None and not 1.0 <= float(height_m) <= 2.5:
        raise RecordsError(f"records: height {height_m!r} m is out of range 1.0..2.5")
    with db.session() as s:
        check_patient_id(patient_id)
        p = s.get(Patient, patient_id)
        if p is None:
            p = Patient(id=patient_id, amputation_side=side or "left",
                        amputation_level=level or "transradial")
            s.add(p)
        for name, value in (("amputation_side", side), ("amputation_level", level),
                            ("height_m", height_m), ("segment_lengths", segment_lengths),
                            ("skin_tone", skin_tone), ("notes", notes)):
            if value is not None:
                setattr(p, name, value)
        s.flush()
        return _patient_dict(p)


def set_program(db: Database, patient_id: str, phase: str, *,
                sessions_per_day: int | None = None, minutes_per_session: float | None = None,
                gating: dict[str, Any] | None = None) -> dict[str, Any]:
    """Put a program in force for the patient (kept as history; the newest one counts).

    Checked by the same validator as a program file (:func:`vrgmi.program.program_from_dict`,
    so a value ``load_program`` would refuse is refused here too); the defaults are the
    program's (CLINICAL.md: sessions of 10-20 minutes, several a day).
    """
    from vrgmi.program import ProgramError, program_from_dict
    data: dict[str, Any] = {"patient": patient_id, "phase": phase}
    for key, value in (("sessions_per_day", sessions_per_day),
                       ("minutes_per_session", minutes_per_session)):
        if value is not None:
            data[key] = value
    for name in ("laterality", "imagery"):
        if isinstance((gating or {}).get(name), dict):
            data[name] = gating[name]
    try:
        checked = program_from_dict(data, "records: program")
    except ProgramError as exc:
        raise RecordsError(str(exc)) from None
    with db.session() as s:
        patient = require_patient(s, patient_id)
        # the levels the patient carries between sessions (vrgmi.progress) stay in force
        before = _in_force(patient)
        progress = ((before.spec or {}).get("progress") if before is not None else None) or {}
        pr = Program(patient_id=patient_id, phase=phase,
                     sessions_per_day=int(checked.sessions_per_day),
                     minutes_per_session=float(checked.minutes_per_session), gating=gating or {},
                     spec={**checked.as_dict(), "progress": dict(progress)} if progress
                     else None)
        s.add(pr)
        s.flush()
        return _program_dict(pr)


def sessions_on(db: Database, patient_id: str, day: date) -> int:
    """How many sessions the patient started on ``day`` (the local date); 0 for a patient
    not in the records."""
    with db.session() as s:
        return sum(1 for r in patient_sessions(s, patient_id)
                   if r.started is not None and as_utc(r.started).astimezone().date() == day)


def delete_patient(db: Database, patient_id: str, by: str = "therapist") -> dict[str, int]:
    """Delete the patient and every row that belongs to them, in one transaction.

    Returns the number of rows removed per table. The deletion itself is written to the
    audit log without the pseudonym (only who, when and how many rows).
    """
    with db.session() as s:
        require_patient(s, patient_id)
        counts = _row_counts(s, patient_id)
        s.execute(delete(Patient).where(Patient.id == patient_id))
        s.add(CommandLog(by=by, command="delete_patient", args={"rows": sum(counts.values())},
                         accepted=True))
        return counts


def _row_counts(s: Any, patient_id: str) -> dict[str, int]:
    """Rows per table that belong to ``patient_id`` (directly or through their sessions)."""
    sessions = select(Session.id).where(Session.patient_id == patient_id).scalar_subquery()
    runs = select(SceneRun.id).where(SceneRun.session_id.in_(sessions)).scalar_subquery()

    def count(model: Any, *where: Any) -> int:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0

    by_patient_or_session = {
        "command_log": CommandLog, "therapist_notes": TherapistNote,
        "gate_decisions": GateDecision, "questionnaire_answers": QuestionnaireAnswer}
    out = {name: count(m, (m.patient_id == patient_id) | m.session_id.in_(sessions))
           for name, m in by_patient_or_session.items()}
    out["session_events"] = count(SessionEvent, SessionEvent.session_id.in_(sessions))
    out["trials"] = count(Trial, Trial.scene_run_id.in_(runs) | Trial.session_id.in_(sessions))
    out["scene_runs"] = count(SceneRun, SceneRun.session_id.in_(sessions))
    out["sessions"] = count(Session, Session.patient_id == patient_id)
    out["programs"] = count(Program, Program.patient_id == patient_id)
    out["patients"] = count(Patient, Patient.id == patient_id)
    out["outcome_answers"] = count(OutcomeAnswer, OutcomeAnswer.patient_id == patient_id)
    out["outcome_plans"] = count(OutcomePlan, OutcomePlan.patient_id == patient_id)
    return {name: out[name] for name in TABLES}


def patient_row_counts(db: Database, patient_id: str) -> dict[str, int]:
    """Rows per table that belong to the patient (what a deletion would remove)."""
    with db.session() as s:
        return _row_counts(s, patient_id)


# --- sessions and trials -------------------------------------------------------------------
def list_sessions(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """The patient's sessions, oldest first: id, started, ended, phase, side, level,
    reason_ended, minutes, ``seed`` (vrgmi.seeding: ``--seed`` replays the session; None
    when not recorded), ``scenes`` (names in order), ``trials`` (count), ``nrs_pre``,
    ``nrs_post``."""
    with db.session() as s:
        require_patient(s, patient_id)
        rows = patient_sessions(s, patient_id)
        counts = dict(s.execute(select(Trial.session_id, func.count(Trial.id))
                                .join(Session).where(Session.patient_id == patient_id, SCORED)
                                .group_by(Trial.session_id)).all())
        nrs = _nrs_by_session(s, patient_id)
        return [{"id": r.id, "started": iso(r.started), "ended": iso(r.ended),
                 "phase": r.phase, "side": r.side, "level": r.level,
                 "reason_ended": r.reason_ended, "minutes": r.minutes, "seed": r.seed,
                 "scenes": [run.scene for run in r.scene_runs],
                 "trials": counts.get(r.id, 0),
                 "nrs_pre": nrs.get(r.id, {}).get("pre"),
                 "nrs_post": nrs.get(r.id, {}).get("post")} for r in rows]


def session_trials(db: Database, session_id: str) -> list[dict[str, Any]]:
    """Every trial of one session in order: scene, index, block, t, completed, correct,
    rt_ms, side and ``data`` (all measured values)."""
    with db.session() as s:
        if s.get(Session, session_id) is None:
            raise RecordsError(f"records: no session {session_id!r} in the records")
        return [_trial_dict(t) for t in s.scalars(
            select(Trial).where(Trial.session_id == session_id).order_by(Trial.id))]


def patient_trials(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """Every trial of the patient, oldest first, with its ``session`` id."""
    with db.session() as s:
        require_patient(s, patient_id)
        rows = s.scalars(select(Trial).join(Session).where(Session.patient_id == patient_id)
                         .order_by(Session.started, Trial.id))
        return [_trial_dict(t) for t in rows]


def _trial_dict(t: Trial) -> dict[str, Any]:
    return {"session": t.session_id, "scene": t.scene, "index": t.index, "block": t.block,
            "t": t.t, "completed": iso(t.completed), "correct": t.correct, "rt_ms": t.rt_ms,
            "side": t.side, "data": t.data}


def questionnaires(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """Every questionnaire answered by the patient, oldest first: session, instrument,
    moment, answered (ISO), answers, scores."""
    with db.session() as s:
        require_patient(s, patient_id)
        rows = s.scalars(select(QuestionnaireAnswer)
                         .where(QuestionnaireAnswer.patient_id == patient_id)
                         .order_by(QuestionnaireAnswer.answered, QuestionnaireAnswer.id))
        return [{"session": q.session_id, "instrument": q.instrument, "moment": q.moment,
                 "answered": iso(q.answered), "answers": q.answers, "scores": q.scores}
                for q in rows]


def gate_history(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """The patient's gate decisions, oldest first: session, phase, advance, override,
    criteria, decided, next_phase, reasons, by and reason (an override's who and why)."""
    with db.session() as s:
        require_patient(s, patient_id)
        return [{"session": g.session_id, "phase": g.phase, "advance": g.advance,
                 "override": g.override, "criteria": g.criteria, "decided": iso(g.decided),
                 "next_phase": g.next_phase, "reasons": g.reasons, "by": g.by,
                 "reason": g.reason}
                for g in s.scalars(select(GateDecision)
                                   .where(GateDecision.patient_id == patient_id)
                                   .order_by(GateDecision.decided, GateDecision.id))]


# --- progress ------------------------------------------------------------------------------
def nrs_score(scores: dict[str, Any], answers: list[Any]) -> float | None:
    """The 0-10 pain score of an NRS answer (``scores['nrs']``, ``['score']``, ``['total']``
    or the single answer)."""
    if (value := _first_num(scores, ("nrs", "score", "total", "pain"))) is not None:
        return value
    if len(answers) == 1 and isinstance(answers[0], (int, float)):
        return float(answers[0])
    return None


def _nrs_by_session(s: Any, patient_id: str) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for q in s.scalars(select(QuestionnaireAnswer)
                       .where(QuestionnaireAnswer.patient_id == patient_id,
                              QuestionnaireAnswer.instrument == "nrs")
                       .order_by(QuestionnaireAnswer.id)):
        value = nrs_score(q.scores, q.answers)
        if value is not None and q.session_id and q.moment in ("pre", "post"):
            out[q.session_id][q.moment] = value
    return out


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def imagery_ratio(data: dict[str, Any]) -> float | None:
    """Mental chronometry ratio of one imagery trial: ``ratio``, else imagined / executed
    duration (``imagined_s`` / ``executed_s``)."""
    ratio = data.get("ratio")
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio > 0:
        return float(ratio)
    imagined, executed = data.get("imagined_s"), data.get("executed_s")
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (imagined, executed)) \
            and executed > 0 and imagined > 0:
        return float(imagined) / float(executed)
    return None


def mirror_score(data: dict[str, Any]) -> float | None:
    """The score of one mirror-task trial (``score``, else ``accuracy``), or None."""
    return _first_num(data, ("score", "accuracy"))


#: sessions pooled at each end of the treatment for the RT-by-angle comparison
ANGLE_SESSIONS = 3


def _lat_record(t: Trial) -> dict[str, Any]:
    """A stored laterality trial in the shape :mod:`vrgmi.laterality.analysis` reads."""
    d = t.data
    return {"side": t.side, "correct": bool(t.correct), "rt_ms": t.rt_ms,
            "timeout": bool(d.get("timeout", False)), "rotation_deg": d.get("rotation_deg"),
            "medial_lateral": d.get("medial_lateral"), "axes": d.get("axes") or ()}


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000.0


def _laterality_effects(sessions: list[Session], started: dict[str, str | None],
                        lat: dict[tuple[str, str], list[Trial]],
                        affected: str | None) -> dict[str, list[dict[str, Any]]]:
    """The side difference, RT-by-angle and medial/lateral series of :func:`progress`."""
    from vrgmi.laterality import analysis

    per_session = [(r.id, [_lat_record(t) for side in ("left", "right")
                           for t in lat.get((r.id, side), [])]) for r in sessions]
    per_session = [(sid, trials) for sid, trials in per_session if trials]
    minus = "right" if affected != "right" else "left"
    difference = []
    for sid, trials in per_session:
        a = analysis.stats(t for t in trials if t["side"] != minus)
        b = analysis.stats(t for t in trials if t["side"] == minus)
        if a["n"] and b["n"]:
            rt = (None if a["rt_median_ms"] is None or b["rt_median_ms"] is None
                  else (a["rt_median_ms"] - b["rt_median_ms"]) / 1000.0)
            difference.append({"session": sid, "started": started[sid],
                               "side": "left" if minus == "right" else "right",
                               "minus": minus, "rt_s": rt,
                               "accuracy": a["accuracy"] - b["accuracy"]})
    angle = []
    groups = (("first", per_session[:ANGLE_SESSIONS]),
              ("latest", per_session[ANGLE_SESSIONS:][-ANGLE_SESSIONS:]))
    for group, chosen in groups:
        trials = [t for _, ts in chosen for t in ts if t["rotation_deg"] is not None]
        if not trials:
            continue
        slope, _ = analysis.rt_slope(trials)
        for row in analysis.by_angle(trials):
            angle.append({"group": group, "sessions": [sid for sid, _ in chosen],
                          "angle_deg": row["angle_deg"], "n": row["n"],
                          "accuracy": row["accuracy"], "rt_s": _seconds(row["rt_median_ms"]),
                          "slope_ms_per_deg": slope})
    medial_lateral = []
    for sid, trials in per_session:
        classed = [t for t in trials if t["medial_lateral"] in ("medial", "lateral")]
        multi = [t for t in classed if len(t["axes"]) > 1]
        if not classed:
            continue
        ml = analysis.medial_lateral(multi or classed)
        medial_lateral.append({
            "session": sid, "started": started[sid], "multi_axis": bool(multi),
            "medial_rt_s": _seconds(ml["medial"]["rt_median_ms"]),
            "lateral_rt_s": _seconds(ml["lateral"]["rt_median_ms"]),
            "n_medial": ml["medial"]["n"], "n_lateral": ml["lateral"]["n"],
            "lateral_minus_medial_s": _seconds(ml["lateral_minus_medial_ms"])})
    return {"laterality_difference": difference, "laterality_angle": angle,
            "medial_lateral": medial_lateral}


def _mirror_rows(sessions: list[Session], started: dict[str, str | None],
                 mir: dict[tuple[str, str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per session and scene: trials, success rate, median time of the successes, score,
    the mean share of trial time the phantom was watched (docs/mirror-tasks.md)."""
    order = {r.id: i for i, r in enumerate(sessions)}
    out = []
    for (sid, scene), rows in sorted(mir.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])):
        ok = [d for d in rows if d.get("success") is True]
        times = [v for d in ok if (v := _num(d, "time_s")) is not None]
        scores = [v for d in rows if (v := mirror_score(d)) is not None]
        judged = [d for d in rows if isinstance(d.get("success"), bool)]
        watched = [v for d in rows if (v := _num(d, "watch_share")) is not None]
        out.append({"session": sid, "started": started[sid], "scene": scene, "n": len(rows),
                    "successes": len(ok),
                    "success_rate": len(ok) / len(judged) if judged else None,
                    "time_s": _median(times),
                    "score": sum(scores) / len(scores) if scores else None,
                    "watch_share": sum(watched) / len(watched) if watched else None})
    return out


def progress(db: Database, patient_id: str,
             norms: dict[str, float] | None = None) -> dict[str, Any]:
    """Per-session progress series of one patient, oldest first (see the module doc).

    Returns ``{"patient", "level", "side", "phase", "norms", "sessions": [{id, started,
    phase}], "laterality": [{session, started, side, n, probe, accuracy, rt_s}] (the probe's
    trials when the session had a probe, ``probe`` true; else all its scored trials),
    "laterality_difference": [{session, started, side, minus, rt_s, accuracy}] (``side``
    minus ``minus``: the affected side minus the other, right - left when the side is not
    known; median RT in s, accuracy as a fraction), "laterality_angle": [{group ("first" |
    "latest": the first and the latest :data:`ANGLE_SESSIONS` sessions), sessions,
    angle_deg (30-degree bins), n, accuracy, rt_s, slope_ms_per_deg}], "medial_lateral":
    [{session, started, multi_axis (only trials rotated about more than one axis, when
    there are any), medial_rt_s, lateral_rt_s, n_medial, n_lateral,
    lateral_minus_medial_s}], "imagery": [{session, started, n, ratio}], "kviq": [{session,
    started, moment, visual, kinesthetic, visual_mean, kinesthetic_mean}], "mirror":
    [{session, started, scene, n, successes, success_rate, time_s, score, watch_share}], "nrs":
    [{session, started, pre, post}], "ssq": [{session, started, moment, total, nausea,
    oculomotor, disorientation}]}``, and the embodiment measures' "embodiment", "drift" and
    "touch" series (:func:`vrgmi.records.embodiment.embodiment_series`).
    """
    with db.session() as s:
        p = require_patient(s, patient_id)
        program = _in_force(p)
        sessions = patient_sessions(s, patient_id)
        started = {r.id: iso(r.started) for r in sessions}
        phase_of_run = dict(s.execute(select(SceneRun.id, SceneRun.phase)
                                      .join(Session).where(Session.patient_id == patient_id))
                            .all())
        lat: dict[tuple[str, str], list[Trial]] = defaultdict(list)
        img: dict[str, list[float]] = defaultdict(list)
        mir: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        for t in s.scalars(select(Trial).join(Session)
                           .where(Session.patient_id == patient_id, SCORED).order_by(Trial.id)):
            phase = phase_of_run.get(t.scene_run_id, "")
            if phase == "laterality" and t.side is not None and t.correct is not None:
                lat[(t.session_id, t.side)].append(t)
            elif phase == "imagery" and (r := imagery_ratio(t.data)) is not None:
                img[t.session_id].append(r)
            elif phase == "mirror":
                mir[(t.session_id, t.scene)].append(t.data)
        laterality = []
        for r in sessions:
            for side in ("left", "right"):
                trials = lat.get((r.id, side))
                if trials:
                    # the probe, when the session had one: what the norms and the gate judge
                    probe = [t for t in trials if (t.data or {}).get("probe")]
                    trials = probe or trials
                    rts = [t.rt_ms / 1000.0 for t in trials if t.correct and t.rt_ms is not None]
                    laterality.append({"session": r.id, "started": started[r.id], "side": side,
                                       "n": len(trials), "probe": bool(probe),
                                       "accuracy": sum(t.correct for t in trials) / len(trials),
                                       "rt_s": _median(rts)})
        imagery = [{"session": r.id, "started": started[r.id], "n": len(img[r.id]),
                    "ratio": _median(img[r.id])} for r in sessions if img.get(r.id)]
        mirror = _mirror_rows(sessions, started, mir)
        effects = _laterality_effects(sessions, started, lat, p.amputation_side)
        nrs_rows = _nrs_by_session(s, patient_id)
        nrs = [{"session": r.id, "started": started[r.id], "pre": nrs_rows[r.id].get("pre"),
                "post": nrs_rows[r.id].get("post")} for r in sessions if r.id in nrs_rows]
        kviq, ssq = [], []
        for q in s.scalars(select(QuestionnaireAnswer)
                           .where(QuestionnaireAnswer.patient_id == patient_id,
                                  QuestionnaireAnswer.instrument.in_(("kviq", "ssq")))
                           .order_by(QuestionnaireAnswer.answered, QuestionnaireAnswer.id)):
            when = started.get(q.session_id or "", iso(q.answered))
            base = {"session": q.session_id, "started": when, "moment": q.moment}
            if q.instrument == "kviq":
                kviq.append({**base, "visual": kviq_total(q.scores, "visual"),
                             "kinesthetic": kviq_total(q.scores, "kinesthetic"),
                             "visual_mean": kviq_item_mean(q.scores, "visual"),
                             "kinesthetic_mean": kviq_item_mean(q.scores, "kinesthetic")})
            else:
                ssq.append({**base, **{k: _num(q.scores, k) for k in
                                       ("total", "nausea", "oculomotor", "disorientation")}})
        from vrgmi.records.embodiment import embodiment_series
        embodiment = embodiment_series(s, patient_id, sessions, started)
        return {"patient": p.id, "side": p.amputation_side, "level": p.amputation_level,
                "phase": program.phase if program else None,
                "norms": {**NORMS, **(norms or {})},
                "sessions": [{"id": r.id, "started": started[r.id], "phase": r.phase}
                             for r in sessions],
                "laterality": laterality, **effects, "imagery": imagery, "kviq": kviq,
                "mirror": mirror, "nrs": nrs, "ssq": ssq, **embodiment}


def kviq_total(scores: dict[str, Any], subscale: str) -> float | None:
    """A KVIQ subscale total: the KVIQ-20 total (10-50) if complete, else the KVIQ-10 total
    (5-25), else the sum of the ratings given (``visual_sum``), else ``scores[subscale]``."""
    return _first_num(scores, (f"kviq20_{subscale}", f"kviq10_{subscale}", f"{subscale}_sum",
                               subscale))


def kviq_item_mean(scores: dict[str, Any], subscale: str) -> float | None:
    """A KVIQ subscale as the mean rating per item (1-5): ``visual_mean``, else the sum of
    the ratings over their count, else a complete KVIQ-20 or KVIQ-10 total over its 10 or 5
    items; None when the number of items rated is not known. Unlike a sum it does not
    depend on how many items were rated (4 and 4 are 4 whether 1 or 3 items were asked)."""
    if (mean := _num(scores, f"{subscale}_mean")) is not None:
        return mean
    total, n = _num(scores, f"{subscale}_sum"), _num(scores, f"{subscale}_n")
    if total is not None and n:
        return total / n
    for name, items in (("kviq20", 10), ("kviq10", 5)):
        if (total := _num(scores, f"{name}_{subscale}")) is not None:
            return total / items
    return None


def _num(scores: dict[str, Any], key: str) -> float | None:
    value = scores.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        else None


def _first_num(scores: dict[str, Any], keys: tuple[str, ...]) -> float | None:
    """The first of ``keys`` whose value is a number (not a bool), as a float."""
    return next((v for key in keys if (v := _num(scores, key)) is not None), None)


# --- notes ---------------------------------------------------------------------------------
def add_note(db: Database, patient_id: str, text: str, author: str = "therapist",
             session_id: str | None = None) -> dict[str, Any]:
    """Add a therapist note (1..10 000 characters); returns it as a dict."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_NOTE_CHARS:
        raise RecordsError(f"records: a note must be 1..{MAX_NOTE_CHARS} characters of text")
    with db.session() as s:
        require_patient(s, patient_id)
        if session_id is not None and s.get(Session, session_id) is None:
            raise RecordsError(f"records: no session {session_id!r} in the records")
        note = TherapistNote(patient_id=patient_id, session_id=session_id,
                             author=str(author)[:64], text=text.strip())
        s.add(note)
        s.flush()
        return _note_dict(note)


def list_notes(db: Database, patient_id: str) -> list[dict[str, Any]]:
    """The patient's notes, newest first: id, written, author, session, text."""
    with db.session() as s:
        require_patient(s, patient_id)
        return [_note_dict(n) for n in s.scalars(
            select(TherapistNote).where(TherapistNote.patient_id == patient_id)
            .order_by(TherapistNote.written.desc(), TherapistNote.id.desc()))]


def _note_dict(n: TherapistNote) -> dict[str, Any]:
    return {"id": n.id, "written": iso(n.written), "author": n.author,
            "session": n.session_id, "text": n.text}


# --- audit log -----------------------------------------------------------------------------
def log_command(db: Database, *, command: str, by: str, accepted: bool,
                args: dict[str, Any] | None = None, reason: str = "", command_id: str = "",
                patient_id: str | None = None, session_id: str | None = None) -> None:
    """Append one command (accepted or rejected, with the reason) to the audit log.

    ``patient_id`` / ``session_id`` that are not in the records are stored as None (a
    command for a session not yet written is still audited).
    """
    with db.session() as s:
        if patient_id is not None and s.get(Patient, patient_id) is None:
            patient_id = None
        if session_id is not None and s.get(Session, session_id) is None:
            session_id = None
        s.add(CommandLog(by=str(by)[:64], command=str(command)[:32], args=_jsonable(args or {}),
                         accepted=bool(accepted), reason=str(reason)[:2000],
                         command_id=str(command_id)[:32], patient_id=patient_id,
                         session_id=session_id))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and value != value:
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)[:200]


def list_commands(db: Database, limit: int = 200, patient_id: str | None = None,
                  session_id: str | None = None) -> list[dict[str, Any]]:
    """The audit log, newest first (at most ``limit``, capped at 1000): id, wall, by,
    command, args, accepted, reason, command_id, patient, session."""
    limit = max(1, min(int(limit), MAX_AUDIT_ROWS))
    with db.session() as s:
        q = select(CommandLog).order_by(CommandLog.id.desc()).limit(limit)
        if patient_id is not None:
            q = q.where(CommandLog.patient_id == patient_id)
        if session_id is not None:
            q = q.where(CommandLog.session_id == session_id)
        return [{"id": c.id, "wall": iso(c.wall), "by": c.by, "command": c.command,
                 "args": c.args, "accepted": c.accepted, "reason": c.reason,
                 "command_id": c.command_id, "patient": c.patient_id, "session": c.session_id}
                for c in s.scalars(q)]
