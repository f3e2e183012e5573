"""A patient's study allocations in the exports: blinded (the session's condition code only)
unless the caller asks for them unblinded (the condition and its parameters too).

The allocations live in the patient's program in force (``StudyPlan.allocations``, saved
at each session's start). docs/study-conditions.md.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from vrgmi.records.db import Database

BLINDED_COLUMNS = ("session", "index", "code")
UNBLINDED_COLUMNS = BLINDED_COLUMNS + ("condition", "seed")
#: the FHIR code of a session's study condition (the value is its code, or its name)
FHIR_CODE = "study-condition"


def study_rows(db: Database, patient_id: str, unblinded: bool = False) -> list[dict[str, Any]]:
    """One row per allocated session, oldest first ([] outside a study)."""
    from vrgmi.records.programs import load_program
    program = load_program(db, patient_id)
    if program is None or program.study is None:
        return []
    columns = UNBLINDED_COLUMNS if unblinded else BLINDED_COLUMNS
    return [{c: a.get(c) for c in columns} for a in program.study.allocations]


def study_csv(db: Database, patient_id: str, unblinded: bool = False) -> str | None:
    """The allocations as CSV text (None outside a study)."""
    rows = study_rows(db, patient_id, unblinded)
    if not rows:
        return None
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def study_resources(pid: str, db: Database, patient_id: str, unblinded: bool,
                    uid: Callable[..., str], code_system: str,
                    category: Callable[[str], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One FHIR Observation per allocated session: the code (``valueString``); unblinded,
    a component with the condition's name."""
    out = []
    for row in study_rows(db, patient_id, unblinded):
        obs: dict[str, Any] = {
            "resourceType": "Observation", "id": uid(pid, "study", row["session"]),
            "status": "final", "category": category("procedure"),
            "code": {"coding": [{"system": code_system, "code": FHIR_CODE,
                                 "display": "Study condition code of the session"}],
                     "text": f"Study condition code, session {row['session']}"},
            "subject": {"reference": f"urn:uuid:{uid(pid, 'patient')}"},
            "valueString": row["code"]}
        if unblinded:
            obs["component"] = [{"code": {"text": "study condition (unblinded)"},
                                 "valueString": row["condition"]}]
        out.append(obs)
    return out
