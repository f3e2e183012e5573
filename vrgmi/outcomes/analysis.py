"""Change from baseline per patient, and the clinic's responder analysis (NumPy, no
database, no Panda3D).

A patient's *outcome record* is ``{time point: {"measure.score": value}}`` (the latest
answer of each measure at each time point). Per patient, :func:`patient_change` gives every
score's baseline, value at each time point, change and percent change. Per clinic,
:func:`clinic_summary` gives at each time point after the baseline: how many patients had a
baseline, how many answered, how many dropped out (the visit missed:
:mod:`vrgmi.outcomes.schedule`), the responder rates on the primary measure (average
phantom pain: the share with at least ``responder_moderate`` (30 %) and
``responder_substantial`` (50 %) less pain than at baseline; among those who answered, and
with every drop-out counted as a non-responder), and for every score the median change from
baseline with its interquartile range (NumPy's linear percentiles). A patient whose baseline
pain is 0 cannot improve by a share: they count in the answered total but in no rate.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from vrgmi.outcomes.battery import MEASURES
from vrgmi.outcomes.schedule import BASELINE, Rules, label, order_key

PRIMARY = "pain.average"

Record = Mapping[str, Mapping[str, float]]


def score_keys() -> list[str]:
    """Every ``measure.score`` key, in battery order."""
    return [f"{m.id}.{s}" for m in MEASURES.values() for s in m.scores]


def relative_change(base: float, value: float) -> float | None:
    """``(value - base) / base``; None when the baseline is 0."""
    return None if base == 0 else (value - base) / base


def patient_change(record: Record) -> dict[str, list[dict[str, Any]]]:
    """Per score: one row per time point ``{timepoint, value, change, pct}`` (change and pct
    against the baseline; None without one), time points in clinical order."""
    base = record.get(BASELINE, {})
    out: dict[str, list[dict[str, Any]]] = {}
    for key in score_keys():
        rows = []
        for tp in sorted(record, key=order_key):
            value = record[tp].get(key)
            if value is None:
                continue
            b = base.get(key)
            pct = None if b is None else relative_change(b, value)
            rows.append({"timepoint": tp, "value": value,
                         "change": None if b is None else round(value - b, 4),
                         "pct": None if pct is None else round(100.0 * pct, 1)})
        if rows:
            out[key] = rows
    return out


def _quartiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "q1": None, "q3": None}
    q1, med, q3 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": round(float(med), 4), "q1": round(float(q1), 4), "q3": round(float(q3), 4)}


def _rate(k: int, n: int) -> float | None:
    return None if n == 0 else round(k / n, 4)


def clinic_summary(patients: Iterable[Mapping[str, Any]], rules: Rules = Rules(),
                   timepoints: Iterable[str] | None = None) -> dict[str, Any]:
    """The responder analysis over ``patients``: each ``{"id", "record", "missed"}`` with
    ``record`` as above and ``missed`` the time points the patient dropped out at.

    Returns ``{"patients", "with_baseline", "thresholds", "timepoints": [row...]}``; each row:
    ``timepoint``, ``label``, ``answered``, ``dropouts``, ``responders`` ``{"30": {"n", "rate",
    "rate_itt"}, "50": ...}``, ``evaluable`` (answered with a baseline pain above 0),
    ``pain_pct`` (median and IQR of the percent change of the primary measure) and
    ``change`` (per score: ``n`` and median and IQR of the change from baseline)."""
    pts = list(patients)
    based = [p for p in pts if PRIMARY in p["record"].get(BASELINE, {})]
    if timepoints is None:
        seen = {tp for p in pts for tp in p["record"]} | {tp for p in pts for tp in p["missed"]}
        timepoints = sorted(seen - {BASELINE}, key=order_key)
    thresholds = {"30": rules.responder_moderate, "50": rules.responder_substantial}
    names = {"30": f"{100 * rules.responder_moderate:g}",
             "50": f"{100 * rules.responder_substantial:g}"}
    rows = []
    for tp in timepoints:
        answered = [p for p in based if PRIMARY in p["record"].get(tp, {})]
        dropouts = sum(1 for p in based if tp in p["missed"] and tp not in p["record"])
        pcts = []
        for p in answered:
            pct = relative_change(p["record"][BASELINE][PRIMARY], p["record"][tp][PRIMARY])
            if pct is not None:
                pcts.append(pct)
        responders = {}
        for key, share in thresholds.items():
            k = sum(1 for pct in pcts if -pct >= share - 1e-12)
            responders[key] = {"n": k, "rate": _rate(k, len(pcts)),
                               "rate_itt": _rate(k, len(pcts) + dropouts), "percent": names[key]}
        change = {}
        for key in score_keys():
            diffs = [p["record"][tp][key] - p["record"][BASELINE][key] for p in pts
                     if key in p["record"].get(tp, {}) and key in p["record"].get(BASELINE, {})]
            if diffs:
                change[key] = {"n": len(diffs), **_quartiles(diffs)}
        rows.append({"timepoint": tp, "label": label(tp), "answered": len(answered),
                     "evaluable": len(pcts),
                     "dropouts": dropouts, "responders": responders,
                     "pain_pct": _quartiles([100.0 * x for x in pcts]), "change": change})
    return {"patients": len(pts), "with_baseline": len(based), "primary": PRIMARY,
            "thresholds": thresholds, "timepoints": rows}
