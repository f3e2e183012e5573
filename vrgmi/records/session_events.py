"""One stored session read back as the events its log holds (docs/research.md, "BIDS").

The records keep a session's events in their tables (:mod:`vrgmi.records.store`): the
session row, its scene runs (a ``scene_started`` / ``scene_finished`` pair each), its
trials and its questionnaire answers. :func:`stored_events` turns them back into the JSON
Lines log's dicts (``kind``, ``t``, ``data``, ``scene``, ``session``) in the log's order,
so whatever reads a log (the BIDS export, :mod:`vrgmi.export.bids_events`) reads the
records the same way.

What the tables do not keep: the ``session_started`` display time, which is the first
block's start (the session starts its first block on its first frame); a questionnaire's
scene, which is the run it was answered in (the first run that started before it and
ended after it). Events other than these (``block_finished``, ``param_changed`` ...) are
left out.
"""
from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select

from vrgmi.records.db import Database, RecordsError
from vrgmi.records.queries import require_patient
from vrgmi.records.schema import QuestionnaireAnswer, SceneRun, Session, Trial


def _event(kind: str, t: float, data: dict[str, Any], scene: str,
           session: str) -> dict[str, Any]:
    return {"kind": kind, "t": t, "data": data, "scene": scene, "session": session}


def stored_events(db: Database, patient_id: str, session_id: str) -> list[dict[str, Any]]:
    """The stored events of ``session_id`` of ``patient_id``, in the log's order; one-line
    :class:`RecordsError` for an unknown patient or session."""
    with db.session() as s:
        require_patient(s, patient_id)
        row = s.get(Session, session_id)
        if row is None or row.patient_id != patient_id:
            raise RecordsError(f"records: no session {session_id!r} of patient "
                               f"{patient_id!r} in the records")
        runs = list(s.scalars(select(SceneRun).where(SceneRun.session_id == session_id)
                              .order_by(SceneRun.id)))
        trials = list(s.scalars(select(Trial).where(Trial.session_id == session_id)
                                .order_by(Trial.id)))
        answers = list(s.scalars(select(QuestionnaireAnswer)
                                 .where(QuestionnaireAnswer.session_id == session_id)
                                 .order_by(QuestionnaireAnswer.id)))
        if not runs:
            raise RecordsError(f"records: session {session_id!r} has no blocks in the records")
        rank = {run.id: 2 * i for i, run in enumerate(runs)}
        # (display time, place among the runs' starts and ends, wall time): the log's order
        keyed: list[tuple[tuple[float, float, Any], dict[str, Any]]] = []
        t0 = min(run.t_start for run in runs)
        keyed.append(((t0, -1.0, row.started), _event(
            "session_started", t0, {"patient": row.patient_id, "phase": row.phase,
                                    "side": row.side, "level": row.level, "seed": row.seed},
            "", session_id)))
        for run in runs:
            keyed.append(((run.t_start, rank[run.id], run.started), _event(
                "scene_started", run.t_start, {"phase": run.phase, "params": run.params},
                run.scene, session_id)))
            if run.t_end is not None:
                keyed.append(((run.t_end, rank[run.id] + 1, run.ended), _event(
                    "scene_finished", run.t_end, {"summary": run.summary,
                                                  "reason": run.reason},
                    run.scene, session_id)))
        for trial in trials:
            keyed.append(((trial.t, rank[trial.scene_run_id] + 0.5, trial.completed),
                          _event("trial", trial.t, trial.data, trial.scene, session_id)))
        for answer in answers:
            run = _run_of(runs, answer)
            keyed.append(((answer.t, rank[run.id] + 0.5 if run else math.inf, answer.answered),
                          _event("questionnaire", answer.t, {
                              "instrument": answer.instrument, "moment": answer.moment,
                              "answers": answer.answers, "scores": answer.scores},
                              run.scene if run else "", session_id)))
    keyed.sort(key=lambda pair: pair[0])
    return [event for _key, event in keyed]


def _run_of(runs: list[SceneRun], answer: QuestionnaireAnswer) -> SceneRun | None:
    """The run ``answer`` was given in: the first that started before it and ended after."""
    at = (answer.t, answer.answered)
    for run in runs:
        ended = run.t_end is None or (run.t_end, run.ended) >= at
        if (run.t_start, run.started) <= at and ended:
            return run
    return None
