"""CSV exports of a patient's records: trials, sessions, questionnaires and outcome answers
(:mod:`vrgmi.export.outcomes_csv`).

Column order is fixed (:data:`TRIAL_COLUMNS`, :data:`SESSION_COLUMNS`,
:data:`QUESTIONNAIRE_COLUMNS`), with a header row; every measured value of a trial is in the
``values`` column as JSON (the typed columns ``correct``, ``rt_ms``, ``side`` and, for mirror
tasks, ``watch_share`` repeat the ones most analyses need). Times are ISO 8601 UTC; empty
cells are missing values.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vrgmi.atomic import atomic_write
from vrgmi.records.db import Database
from vrgmi.records.queries import list_sessions, patient_trials, questionnaires

TRIAL_COLUMNS = ("patient", "session", "scene", "block", "index", "t_s", "completed",
                 "correct", "rt_ms", "side", "watch_share", "values")
SESSION_COLUMNS = ("patient", "session", "started", "ended", "phase", "side", "level",
                   "reason_ended", "minutes", "scenes", "trials", "nrs_pre", "nrs_post")
QUESTIONNAIRE_COLUMNS = ("patient", "session", "instrument", "moment", "answered", "answers",
                         "scores")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), sort_keys=True)
    return value


def _table(columns: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    return buf.getvalue()


def trials_csv(db: Database, patient_id: str) -> str:
    """Every trial of the patient (oldest first) as CSV text."""
    return _table(TRIAL_COLUMNS, ({**t, "patient": patient_id, "t_s": t["t"],
                                   "watch_share": (t["data"] or {}).get("watch_share"),
                                   "values": t["data"]} for t in patient_trials(db, patient_id)))


def sessions_csv(db: Database, patient_id: str) -> str:
    """Every session of the patient (oldest first) as CSV text; ``scenes`` joined by ``;``."""
    return _table(SESSION_COLUMNS, ({**s, "patient": patient_id, "session": s["id"],
                                     "scenes": ";".join(s["scenes"])}
                                    for s in list_sessions(db, patient_id)))


def questionnaires_csv(db: Database, patient_id: str) -> str:
    """Every questionnaire the patient answered as CSV text (answers and scores as JSON)."""
    return _table(QUESTIONNAIRE_COLUMNS, ({**q, "patient": patient_id}
                                          for q in questionnaires(db, patient_id)))


def csv_files(db: Database, patient_id: str) -> dict[str, str]:
    """The four tables as file name (``PATIENT-trials.csv``, ``PATIENT-sessions.csv``,
    ``PATIENT-questionnaires.csv``, ``PATIENT-outcomes.csv``) -> CSV text;
    and the embodiment tables (:mod:`vrgmi.export.embodiment_export`) when it has them."""
    from vrgmi.export.outcomes_csv import outcomes_csv

    tables = {f"{patient_id}-{name}.csv": table(db, patient_id) for name, table in (
        ("trials", trials_csv), ("sessions", sessions_csv),
        ("questionnaires", questionnaires_csv), ("outcomes", outcomes_csv))}
    from vrgmi.export.embodiment_export import embodiment_tables
    return tables | embodiment_tables(db, patient_id)      # when it has them


def export_csv(db: Database, patient_id: str, folder: Path) -> list[Path]:
    """Write :func:`csv_files` into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    # all or none: every table goes to its temporary file before any replaces its file
    with contextlib.ExitStack() as stack:
        for name, text in csv_files(db, patient_id).items():
            path = folder / name
            stack.enter_context(atomic_write(path, "export")).write(text.encode("utf-8"))
            out.append(path)
    return out
