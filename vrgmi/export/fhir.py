"""A patient's records as an FHIR Bundle (type ``collection``), built and validated with
``fhir.resources``.

FHIR version: the installed ``fhir.resources`` 8.x ships R5 (default) and R4B models, no
R4. We build with ``fhir.resources.R4B``: R4B changed nothing in Patient, Observation,
QuestionnaireResponse or Bundle against R4 for the elements used here, so the JSON is valid
R4 as well (``meta.profile`` is left empty; ``fhirVersion`` is not carried in a Bundle).

What goes in:

* one ``Patient`` with only the pseudonymous identifier (system :data:`PATIENT_SYSTEM`) and,
  nothing else: no name, birth date, gender, address or telecom;
* pain NRS answers as ``Observation`` with LOINC 72514-3 "Pain severity - 0-10 verbal numeric
  rating [Score] - Reported" (CLINICAL.md), ``valueInteger``, ``effectiveDateTime``, and a
  ``note`` saying before or after the session;
* laterality accuracy and median RT per session and stimulus side, the imagery chronometry
  ratio, the mirror tasks' share of completed trials (and a score where a task gives one)
  as ``Observation`` with codes of the local code system
  :data:`CODE_SYSTEM` (there are no LOINC codes for these);
* SSQ, KVIQ and PCS as ``QuestionnaireResponse`` (one item per question, ``valueInteger``)
  against local questionnaire URIs, plus one ``Observation`` per SSQ with the total score;
* the outcome battery's answers (:mod:`vrgmi.export.outcomes_fhir`): a
  ``QuestionnaireResponse`` per measure and visit, and an ``Observation`` per score.

Resource ids are UUIDs derived from the patient and the record (UUID v5), so exporting twice
gives the same ids. The embodiment measures' resources:
:mod:`vrgmi.export.embodiment_export`.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from vrgmi.atomic import write_text
from vrgmi.export.embodiment_export import embodiment_resources
from vrgmi.export.outcomes_fhir import outcome_resources
from vrgmi.export.study_export import study_resources
from vrgmi.outcomes.store import patient_answers
from vrgmi.records.db import Database
from vrgmi.records.queries import nrs_score, progress, questionnaires

LOINC = "http://loinc.org"
NRS_LOINC = "72514-3"
NRS_DISPLAY = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
UCUM = "http://unitsofmeasure.org"
CODE_SYSTEM = "urn:vrgmi:fhir:CodeSystem:gmi-measures"
PATIENT_SYSTEM = "urn:vrgmi:fhir:patient-id"
QUESTIONNAIRE = "urn:vrgmi:fhir:Questionnaire:"      # + instrument name
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_NS = uuid.UUID("5d1c0f8e-6a52-4c1b-9a55-0b7e3c2f9a11")

LOCAL_CODES = {
    "laterality-accuracy": "Laterality recognition accuracy",
    "laterality-rt": "Laterality recognition median response time, correct trials",
    "imagery-chronometry-ratio": "Mental chronometry ratio, imagined / executed duration",
    "mirror-task-score": "Mirror therapy task score, session mean",
    "mirror-task-success": "Mirror therapy trials completed within their limits, share",
    "ssq-total": "Simulator Sickness Questionnaire total score",
}


def _uid(*parts: Any) -> str:
    return str(uuid.uuid5(_NS, "/".join(str(p) for p in parts)))


def _local(code: str, extra: str = "") -> dict[str, Any]:
    text = LOCAL_CODES[code] + (f", {extra}" if extra else "")
    return {"coding": [{"system": CODE_SYSTEM, "code": code, "display": LOCAL_CODES[code]}],
            "text": text}


def _category(code: str) -> list[dict[str, Any]]:
    return [{"coding": [{"system": CATEGORY, "code": code}]}]


def _observation(pid: str, key: tuple, code: dict[str, Any], when: str | None,
                 category: str, **value: Any) -> dict[str, Any]:
    obs: dict[str, Any] = {"resourceType": "Observation", "id": _uid(pid, *key),
                           "status": "final", "category": _category(category), "code": code,
                           "subject": {"reference": f"urn:uuid:{_uid(pid, 'patient')}"}}
    if when:
        obs["effectiveDateTime"] = when
    obs.update(value)
    return obs


def _quantity(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": round(float(value), 4), "unit": unit, "system": UCUM, "code": code}


def bundle_dict(db: Database, patient_id: str, unblinded: bool = False) -> dict[str, Any]:
    """The Bundle as plain JSON-ready data (validated by :func:`build_bundle`); study
    allocations as their codes, with the conditions only when ``unblinded``."""
    prog = progress(db, patient_id)         # an unknown patient's one-line error, too
    pid = prog["patient"]
    resources: list[dict[str, Any]] = [{
        "resourceType": "Patient", "id": _uid(pid, "patient"),
        "identifier": [{"system": PATIENT_SYSTEM, "value": pid}]}]
    for q in questionnaires(db, patient_id):
        resources.extend(_questionnaire(pid, q))
    resources.extend(embodiment_resources(pid, db, patient_id, _uid, CODE_SYSTEM, _category))
    resources.extend(study_resources(pid, db, patient_id, unblinded, _uid, CODE_SYSTEM,
                                     _category))
    resources.extend(outcome_resources(pid, patient_answers(db, patient_id), _uid, CODE_SYSTEM,
                                       LOINC, _category))
    for p in prog["laterality"]:
        side = f"{p['side']} stimuli, {p['n']} trials"
        resources.append(_observation(
            pid, ("lat-acc", p["session"], p["side"]), _local("laterality-accuracy", side),
            p["started"], "exam", valueQuantity=_quantity(100.0 * p["accuracy"], "%", "%")))
        if p["rt_s"] is not None:
            resources.append(_observation(
                pid, ("lat-rt", p["session"], p["side"]), _local("laterality-rt", side),
                p["started"], "exam", valueQuantity=_quantity(p["rt_s"], "s", "s")))
    for p in prog["imagery"]:
        resources.append(_observation(
            pid, ("imagery", p["session"]),
            _local("imagery-chronometry-ratio", f"median of {p['n']} trials"), p["started"],
            "exam", valueQuantity=_quantity(p["ratio"], "ratio", "1")))
    for p in prog["mirror"]:
        if p["success_rate"] is not None:
            resources.append(_observation(
                pid, ("mirror-success", p["session"], p["scene"]),
                _local("mirror-task-success", f"task {p['scene']}, {p['n']} trials"),
                p["started"], "exam",
                valueQuantity=_quantity(100.0 * p["success_rate"], "%", "%")))
        if p["score"] is not None:
            resources.append(_observation(
                pid, ("mirror", p["session"], p["scene"]),
                _local("mirror-task-score", f"task {p['scene']}, {p['n']} trials"),
                p["started"], "exam", valueQuantity=_quantity(p["score"], "score", "{score}")))
    return {"resourceType": "Bundle", "id": _uid(pid, "bundle"), "type": "collection",
            "entry": [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]}


def _questionnaire(pid: str, q: dict[str, Any]) -> list[dict[str, Any]]:
    if q["instrument"] == "embodiment":          # vrgmi.export.embodiment_export: item ids
        return []
    key = (q["instrument"], q["session"], q["moment"], q["answered"])
    moment = {"pre": "before the session", "post": "after the session"}.get(
        q["moment"], f"moment: {q['moment']}")
    if q["instrument"] == "nrs":
        score = nrs_score(q["scores"], q["answers"])
        if score is None:
            return []
        code = {"coding": [{"system": LOINC, "code": NRS_LOINC, "display": NRS_DISPLAY}],
                "text": "Pain NRS 0-10"}
        return [_observation(pid, key, code, q["answered"], "survey",
                             valueInteger=int(round(score)),
                             note=[{"text": f"Phantom limb pain {moment}"}])]
    items = [{"linkId": str(i + 1), "answer": [{"valueInteger": int(a)}]}
             for i, a in enumerate(q["answers"])
             if isinstance(a, (int, float)) and not isinstance(a, bool)]
    out = [{"resourceType": "QuestionnaireResponse", "id": _uid(pid, *key),
            "questionnaire": QUESTIONNAIRE + q["instrument"], "status": "completed",
            "subject": {"reference": f"urn:uuid:{_uid(pid, 'patient')}"},
            "authored": q["answered"], **({"item": items} if items else {})}]
    total = q["scores"].get("total")
    if q["instrument"] == "ssq" and isinstance(total, (int, float)):
        out.append(_observation(pid, (*key, "total"), _local("ssq-total", moment),
                                q["answered"], "survey",
                                valueQuantity=_quantity(total, "score", "{score}")))
    return out


def build_bundle(db: Database, patient_id: str, unblinded: bool = False) -> Bundle:
    """The patient's records as a validated R4B (R4-compatible) ``Bundle``."""
    return Bundle.model_validate(bundle_dict(db, patient_id, unblinded))


def bundle_json(db: Database, patient_id: str, unblinded: bool = False) -> str:
    """The Bundle as FHIR JSON text."""
    return build_bundle(db, patient_id, unblinded).model_dump_json(indent=1,
                                                                   exclude_none=True)


def write_bundle(db: Database, patient_id: str, path: Path, unblinded: bool = False) -> Path:
    """Write the Bundle to ``path`` (UTF-8 JSON, atomically); returns the path."""
    return write_text(path, bundle_json(db, patient_id, unblinded), "export")
