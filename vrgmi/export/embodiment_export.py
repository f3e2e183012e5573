"""The embodiment measures in the exports (docs/embodiment.md, docs/exports.md).

CSV (:func:`embodiment_tables`, added to :func:`vrgmi.export.csv_export.csv_files` for a
patient who has them): ``PATIENT-embodiment.csv`` (one questionnaire a row: the subscale
scores, every answer with its item id as JSON), ``PATIENT-drift.csv`` (one row per mirror
block: the pointing error before and after, the drift, the shift toward the virtual limb)
and ``PATIENT-strokes.csv`` (one brush stroke a row: times, surface, segment, places,
delay, haptic pulse).

FHIR (:func:`embodiment_resources`, added to the Bundle): each questionnaire as a
``QuestionnaireResponse`` (one item per statement, ``linkId`` the item id, ``valueInteger``
-3..+3; the questionnaire URI ends with the texts' source, ``vrgmi`` or the item file's name) and an ``Observation`` per subscale score; per mirror block an ``Observation`` of the
drift (cm); per session one of the strokes (count, with the synchronous and delayed counts
as components). Codes of vrgmi's local code system.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from vrgmi.export.csv_export import _table
from vrgmi.measures.embodiment import SUBSCALES
from vrgmi.records.db import Database
from vrgmi.records.embodiment import SCORES, embodiment_records

EMBODIMENT_COLUMNS = ("patient", "session", "answered", "source", *SCORES, "answers")
DRIFT_COLUMNS = ("patient", "session", "pair", "n_pre", "n_post", "pre_cm", "post_cm",
                 "drift_cm", "shift_toward_cm")
STROKE_COLUMNS = ("patient", "session", "index", "surface", "segment", "t_start", "t_end",
                  "drawn_start", "drawn_end", "delay_s", "u_start", "u_end", "drawn_u",
                  "path_cm", "haptic", "calibrated", "tip_start", "drawn_at")
CODES = {"embodiment": "Embodiment questionnaire, mean of the subscales (-3..+3)",
         **{f"embodiment-{s}": f"Embodiment questionnaire, {s} subscale mean (-3..+3)"
            for s in SUBSCALES},
         "proprioceptive-drift": "Proprioceptive drift toward the virtual limb "
                                 "(pointing error before - after a mirror block)",
         "touch-strokes": "Visuotactile brush strokes in a session"}


def embodiment_tables(db: Database, patient_id: str) -> dict[str, str]:
    """File name -> CSV text of the embodiment tables the patient has rows for."""
    rec = embodiment_records(db, patient_id)
    out = {}
    for name, columns, rows in (("embodiment", EMBODIMENT_COLUMNS, rec["embodiment"]),
                                ("drift", DRIFT_COLUMNS, rec["drift"]),
                                ("strokes", STROKE_COLUMNS, rec["strokes"])):
        if rows:
            out[f"{patient_id}-{name}.csv"] = _table(columns, ({**r, "patient": patient_id}
                                                               for r in rows))
    return out


def _code(code_system: str, code: str, extra: str = "") -> dict[str, Any]:
    return {"coding": [{"system": code_system, "code": code, "display": CODES[code]}],
            "text": CODES[code] + (f", {extra}" if extra else "")}


def embodiment_resources(pid: str, db: Database, patient_id: str, uid: Callable[..., str],
                         code_system: str, category: Callable[[str], Any]
                         ) -> list[dict[str, Any]]:
    """The patient's embodiment resources for the Bundle (``uid`` and ``category`` as in
    :mod:`vrgmi.export.fhir`)."""
    rec = embodiment_records(db, patient_id)
    subject = {"reference": f"urn:uuid:{uid(pid, 'patient')}"}

    def observation(key: tuple, code: str, when: str | None, extra: str = "",
                    **value: Any) -> dict[str, Any]:
        obs = {"resourceType": "Observation", "id": uid(pid, *key), "status": "final",
               "category": category("survey" if code.startswith("embodiment") else "exam"),
               "code": _code(code_system, code, extra), "subject": subject, **value}
        if when:
            obs["effectiveDateTime"] = when
        return obs

    out: list[dict[str, Any]] = []
    for q in rec["embodiment"]:
        key = ("embodiment", q["session"], q["answered"])
        items = [{"linkId": str(a["item"]), "answer": [{"valueInteger": int(a["value"])}]}
                 for a in q["answers"] if isinstance(a, dict)
                 and isinstance(a.get("value"), int) and not isinstance(a.get("value"), bool)]
        source = re.sub(r"[^A-Za-z0-9._-]+", "-", str(q["source"] or "vrgmi"))
        out.append({"resourceType": "QuestionnaireResponse", "id": uid(pid, *key),
                    "questionnaire": f"urn:vrgmi:fhir:Questionnaire:embodiment:{source}",
                    "status": "completed", "subject": subject, "authored": q["answered"],
                    **({"item": items} if items else {})})
        for s in ("embodiment", *SUBSCALES):
            if q[s] is not None:
                code = "embodiment" if s == "embodiment" else f"embodiment-{s}"
                out.append(observation((*key, s), code, q["answered"],
                                       valueQuantity=_score(q[s])))
    for d in rec["drift"]:
        if d["drift_cm"] is not None:
            out.append(observation(
                ("drift", d["session"], d["pair"]), "proprioceptive-drift", d["started"],
                f"mirror block {d['pair']}: {d['pre_cm']:.1f} cm before, {d['post_cm']:.1f} cm "
                "after", valueQuantity={"value": d["drift_cm"], "unit": "cm",
                                        "system": "http://unitsofmeasure.org", "code": "cm"}))
    for r in rec["touch"]:
        out.append(observation(
            ("touch", r["session"]), "touch-strokes", r["started"],
            "delays " + ", ".join(f"{d:g} s" for d in r["delays_s"]),
            valueInteger=r["strokes"],
            component=[{"code": {"text": kind}, "valueInteger": r[kind]}
                       for kind in ("synchronous", "delayed")]))
    return out


def _score(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 4), "unit": "score",
            "system": "http://unitsofmeasure.org", "code": "{score}"}
