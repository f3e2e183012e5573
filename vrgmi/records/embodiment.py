"""The embodiment measures in the records (docs/embodiment.md): questionnaire scores, the
drift task's pointings and the touch task's strokes of one patient, per session.

:func:`embodiment_series` is what :func:`vrgmi.records.queries.progress` adds to its
output (the PDF report's and the companion's charts read it); :func:`embodiment_records`
gives the rows the CSV and FHIR exports write.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from vrgmi.measures.drift import SCENE as DRIFT_SCENE
from vrgmi.measures.drift import drift_rows
from vrgmi.measures.embodiment import SUBSCALES
from vrgmi.records.db import Database
from vrgmi.records.queries import iso, patient_sessions, require_patient
from vrgmi.records.schema import QuestionnaireAnswer, Session, SessionEvent, Trial

SCORES = (*SUBSCALES, "embodiment")


def _questionnaires(s: Any, patient_id: str, started: dict[str, str | None]) -> list[dict]:
    rows = s.scalars(select(QuestionnaireAnswer).where(
        QuestionnaireAnswer.patient_id == patient_id,
        QuestionnaireAnswer.instrument == "embodiment")
        .order_by(QuestionnaireAnswer.answered, QuestionnaireAnswer.id))
    return [{"session": q.session_id, "started": started.get(q.session_id or ""),
             "answered": iso(q.answered), "answers": q.answers,
             "source": (q.scores or {}).get("source"),
             **{k: (q.scores or {}).get(k) for k in SCORES}} for q in rows]


def _pointings(s: Any, patient_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(Trial).join(Session).where(
        Session.patient_id == patient_id, Trial.scene == DRIFT_SCENE).order_by(Trial.id))
    return [{"session": t.session_id, "completed": iso(t.completed), "data": t.data}
            for t in rows]


def _strokes(s: Any, patient_id: str) -> list[dict[str, Any]]:
    rows = s.scalars(select(SessionEvent).join(Session).where(
        Session.patient_id == patient_id, SessionEvent.kind == "stroke")
        .order_by(SessionEvent.id))
    return [{"session": e.session_id, "wall": iso(e.wall), "t": e.t, **(e.data or {})}
            for e in rows]


def _touch_rows(strokes: list[dict[str, Any]],
                started: dict[str, str | None]) -> list[dict[str, Any]]:
    """Per session: strokes, how many synchronous / delayed, on which surface, pulses."""
    out: dict[str, dict[str, Any]] = {}
    for k in strokes:
        row = out.setdefault(k["session"], {
            "session": k["session"], "started": started.get(k["session"]), "strokes": 0,
            "synchronous": 0, "delayed": 0, "intact": 0, "residual": 0, "haptic": 0,
            "delays_s": []})
        row["strokes"] += 1
        delay = float(k.get("delay_s") or 0.0)
        row["delayed" if delay > 0 else "synchronous"] += 1
        if k.get("surface") in ("intact", "residual"):
            row[k["surface"]] += 1
        row["haptic"] += bool(k.get("haptic"))
        if delay not in row["delays_s"]:
            row["delays_s"].append(delay)
    return list(out.values())


def embodiment_series(s: Any, patient_id: str, sessions: list[Session],
                      started: dict[str, str | None]) -> dict[str, list[dict[str, Any]]]:
    """``{"embodiment": [{session, started, answered, answers, ownership, agency, location,
    appearance, embodiment}], "drift": [{session, started, pair, n_pre, n_post, pre_cm,
    post_cm, drift_cm, shift_toward_cm}], "touch": [{session, started, strokes,
    synchronous, delayed, intact, residual, haptic, delays_s}]}`` in the ORM session ``s``."""
    order = {r.id: i for i, r in enumerate(sessions)}
    drift = sorted(drift_rows(_pointings(s, patient_id)),
                   key=lambda r: (order.get(r["session"], -1), r["pair"]))
    return {"embodiment": _questionnaires(s, patient_id, started),
            "drift": [{**r, "started": started.get(r["session"])} for r in drift],
            "touch": _touch_rows(_strokes(s, patient_id), started)}


def embodiment_records(db: Database, patient_id: str) -> dict[str, list[dict[str, Any]]]:
    """The per-session series of :func:`embodiment_series` plus every drift pointing
    (``pointings``) and every stroke (``strokes``), for the exports."""
    with db.session() as s:
        require_patient(s, patient_id)
        sessions = patient_sessions(s, patient_id)
        started = {r.id: iso(r.started) for r in sessions}
        out = embodiment_series(s, patient_id, sessions, started)
        out["pointings"] = _pointings(s, patient_id)
        out["strokes"] = _strokes(s, patient_id)
        return out
