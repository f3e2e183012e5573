"""CSV tables of the outcomes (:mod:`vrgmi.outcomes`): a patient's answers, and the clinic's
answers, visits and responder analysis.

* ``PATIENT-outcomes.csv`` (in the patient's CSV export): one row per score of each answer:
  patient, time point, measure, score, value, answered, by, and the answers as JSON;
* the clinic's ZIP (:func:`clinic_csv_files`): ``outcomes-scores.csv`` (one row per patient,
  time point and score, with the change from baseline), ``outcomes-visits.csv`` (every
  patient's visits and their status) and ``outcomes-responders.csv`` (per time point: with
  baseline, answered, drop-outs, responders at 30 % and 50 % among those who answered and
  intention-to-treat, the median percent change of average pain with its IQR, and the median
  change of every score with its IQR).
"""
from __future__ import annotations

from datetime import date
from typing import Any

from vrgmi.export.csv_export import _table
from vrgmi.outcomes.analysis import score_keys
from vrgmi.outcomes.schedule import BASELINE, Rules
from vrgmi.outcomes.store import clinic_outcomes, patient_answers
from vrgmi.records.db import Database

ANSWER_COLUMNS = ("patient", "timepoint", "measure", "score", "value", "answered", "by",
                  "answers")
SCORE_COLUMNS = ("patient", "phase", "timepoint", "score", "value", "baseline", "change",
                 "pct_change")
VISIT_COLUMNS = ("patient", "timepoint", "label", "date", "status", "done_on")
RESPONDER_COLUMNS = ("timepoint", "with_baseline", "answered", "evaluable", "dropouts",
                     "responders_30", "rate_30", "rate_30_itt", "responders_50", "rate_50",
                     "rate_50_itt", "pain_pct_median", "pain_pct_q1", "pain_pct_q3",
                     "score", "score_n", "change_median", "change_q1", "change_q3")


def outcomes_csv(db: Database, patient_id: str) -> str:
    """The patient's outcome answers, one row per score, as CSV text."""
    rows = [{**a, "patient": patient_id, "score": name, "value": value}
            for a in patient_answers(db, patient_id) for name, value in a["scores"].items()]
    return _table(ANSWER_COLUMNS, rows)


def _score_rows(patients: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for p in patients:
        base = p["record"].get(BASELINE, {})
        for tp, scores in p["record"].items():
            for key in (k for k in score_keys() if k in scores):
                b = base.get(key)
                out.append({"patient": p["id"], "phase": p["phase"], "timepoint": tp,
                            "score": key, "value": scores[key], "baseline": b,
                            "change": None if b is None else round(scores[key] - b, 4),
                            "pct_change": None if not b else round(100 * (scores[key] - b) / b, 1)})
    return out


def _responder_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in summary["timepoints"]:
        r30, r50 = row["responders"]["30"], row["responders"]["50"]
        head = {"timepoint": row["timepoint"], "with_baseline": summary["with_baseline"],
                "answered": row["answered"], "evaluable": row["evaluable"],
                "dropouts": row["dropouts"], "responders_30": r30["n"], "rate_30": r30["rate"],
                "rate_30_itt": r30["rate_itt"], "responders_50": r50["n"],
                "rate_50": r50["rate"], "rate_50_itt": r50["rate_itt"],
                "pain_pct_median": row["pain_pct"]["median"],
                "pain_pct_q1": row["pain_pct"]["q1"], "pain_pct_q3": row["pain_pct"]["q3"]}
        out.append(head)
        out += [{"timepoint": row["timepoint"], "score": key, "score_n": c["n"],
                 "change_median": c["median"], "change_q1": c["q1"], "change_q3": c["q3"]}
                for key, c in row["change"].items()]
    return out


def clinic_csv_files(db: Database, today: date | None = None, rules: Rules = Rules(),
                     ids: list[str] | None = None,
                     outcomes: dict[str, Any] | None = None) -> dict[str, str]:
    """The clinic's outcome tables as file name -> CSV text (``outcomes``: a
    :func:`~vrgmi.outcomes.store.clinic_outcomes` already read)."""
    data = outcomes or clinic_outcomes(db, today, rules, ids)
    return {"outcomes-scores.csv": _table(SCORE_COLUMNS, _score_rows(data["patients"])),
            "outcomes-visits.csv": _table(VISIT_COLUMNS, ({"patient": p["id"], **v}
                                                          for p in data["patients"]
                                                          for v in p["visits"])),
            "outcomes-responders.csv": _table(RESPONDER_COLUMNS,
                                              _responder_rows(data["summary"]))}
