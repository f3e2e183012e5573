"""A patient's outcome answers (:mod:`vrgmi.outcomes`) as FHIR resources for the patient's
Bundle (:mod:`vrgmi.export.fhir`).

Each answer (one measure at one time point) is a ``QuestionnaireResponse`` against the
questionnaire URI ``urn:vrgmi:fhir:Questionnaire:outcomes-<measure>`` (rated items as
``valueInteger`` / ``valueDecimal``; the PSFS's activities and the medication rows as groups
of ``valueString`` and rating items), plus one ``Observation`` per score, ``derivedFrom`` the
response, with a ``note`` naming the time point. Codes: the average and worst phantom pain
ratings carry LOINC 72514-3 (a 0-10 pain severity rating) next to the project's code that
says which; every other score is coded only in the project's code system
(:data:`vrgmi.export.fhir.CODE_SYSTEM`, ``outcome-<measure>-<score>``): no LOINC code was
verified for them (docs/outcomes.md).
"""
from __future__ import annotations

from typing import Any

from vrgmi.outcomes.battery import MEASURES, Measure
from vrgmi.outcomes.schedule import label

#: UCUM units of the scores that are quantities (the rest are whole-number scores on their
#: scale, or a mean as a ``{score}`` quantity)
UNITS = {"episodes.per_day": ("per day", "/d"), "episodes.duration_min": ("min", "min"),
         "prosthesis.hours": ("h/day", "h/d")}


def local_code(measure_id: str, score_name: str) -> str:
    """The project code of one outcome score."""
    return f"outcome-{measure_id}-{score_name}".replace("_", "-")


def _display(m: Measure, score_name: str) -> str:
    item = next((i for i in m.items if i.id == score_name), None)
    if m.id == "pcs":
        return f"{m.title}, {score_name}"
    if item is not None:
        return f"{m.title}: {item.id.replace('_', ' ')}"
    return f"{m.title}, {score_name}"


def _value(answer: Any) -> dict[str, Any]:
    if isinstance(answer, bool):
        return {"valueBoolean": answer}
    if isinstance(answer, int):
        return {"valueInteger": answer}
    if isinstance(answer, float):
        return ({"valueInteger": int(answer)} if answer.is_integer()
                else {"valueDecimal": round(answer, 4)})
    return {"valueString": str(answer)}


def _items(m: Measure, answers: dict[str, Any]) -> list[dict[str, Any]]:
    if m.kind == "activities":
        return [{"linkId": f"activity-{k + 1}", "text": f"Activity {k + 1}",
                 "item": [{"linkId": f"activity-{k + 1}.name", "text": "activity",
                           "answer": [{"valueString": a["name"]}]},
                          {"linkId": f"activity-{k + 1}.rating", "text": m.items[0].text,
                           "answer": [_value(a["rating"])]}]}
                for k, a in enumerate(answers.get("activities", []))]
    if m.kind == "medication":
        out = [{"linkId": f"medication-{k + 1}", "text": f"Medicine {k + 1}",
                "item": [{"linkId": f"medication-{k + 1}.{f}", "text": f,
                          "answer": [{"valueString": r[f]}]} for f in ("name", "dose", "frequency")
                         if r.get(f)]}
               for k, r in enumerate(answers.get("rows", []))]
        if answers.get("text"):
            out.append({"linkId": "notes", "text": "notes",
                        "answer": [{"valueString": answers["text"]}]})
        return out
    return [{"linkId": i.id, "text": i.text, "answer": [_value(answers[i.id])]}
            for i in m.items if i.id in answers]


def outcome_resources(pid: str, answers: list[dict[str, Any]], uid: Any, system: str,
                      loinc: str, category: Any) -> list[dict[str, Any]]:
    """The resources of every outcome answer of patient ``pid``. ``uid(*parts)`` makes the
    stable resource ids, ``system`` is the project's code system, ``loinc`` the LOINC
    system URI and ``category(code)`` an Observation category (the Bundle's helpers)."""
    subject = {"reference": f"urn:uuid:{uid(pid, 'patient')}"}
    out: list[dict[str, Any]] = []
    for a in answers:
        m = MEASURES.get(a["measure"])
        if m is None:
            continue
        key = ("outcome", a["id"])
        qr_id = uid(pid, *key)
        items = _items(m, a["answers"])
        out.append({"resourceType": "QuestionnaireResponse", "id": qr_id,
                    "questionnaire": f"urn:vrgmi:fhir:Questionnaire:outcomes-{m.id}",
                    "status": "completed", "subject": subject, "authored": a["answered"],
                    **({"item": items} if items else {})})
        for name, value in a["scores"].items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            coding = [{"system": system, "code": local_code(m.id, name),
                       "display": _display(m, name)}]
            code = (m.loinc or {}).get(name)
            if code:
                coding.insert(0, {"system": loinc, "code": code,
                                  "display": "Pain severity - 0-10 verbal numeric rating "
                                             "[Score] - Reported"})
            unit = UNITS.get(f"{m.id}.{name}")
            unit = unit or (("score", "{score}") if not float(value).is_integer() else None)
            val = ({"valueQuantity": {"value": round(float(value), 4), "unit": unit[0],
                                      "system": "http://unitsofmeasure.org", "code": unit[1]}}
                   if unit else {"valueInteger": int(value)})
            out.append({"resourceType": "Observation", "id": uid(pid, *key, name),
                        "status": "final", "category": category("survey"),
                        "code": {"coding": coding, "text": _display(m, name)},
                        "subject": subject, "effectiveDateTime": a["answered"], **val,
                        "derivedFrom": [{"reference": f"urn:uuid:{qr_id}"}],
                        "note": [{"text": f"Outcome visit: {label(a['timepoint'])}"}]})
    return out
