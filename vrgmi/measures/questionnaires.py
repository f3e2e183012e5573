"""Scoring of the questionnaires a GMI session asks (numbers from /work/shared/CLINICAL.md).

* Pain NRS: one whole number 0..10, before and after every session (LOINC 72514-3), and
  whenever the therapist asks for a pain check. A rise of ``safety.flare_rise`` (3,
  CLINICAL.md) or more within a session is a pain flare that should prompt the therapist.
* SSQ (Simulator Sickness Questionnaire, Kennedy 1993): 16 symptoms rated 0..3 in the order
  of :data:`SSQ_ITEMS`; raw subscale sums nausea (items 1,6,7,8,9,15,16), oculomotor
  (1,2,3,4,5,9,11), disorientation (5,10,11,12,13,14); weighted N x 9.54, O x 7.58,
  D x 13.92, total (N + O + D) x 3.74.
* PCS (Pain Catastrophizing Scale, Sullivan 1995), optional: 13 items 0..4, total 0..52;
  rumination (items 8-11), magnification (6, 7, 13), helplessness (1-5, 12).

The VR questionnaires start with no answer selected (a pre-selected answer biases the
ratings toward it); :func:`ssq_alerts` says when an SSQ should alert the therapist.

Every bad answer raises a one-line :class:`QuestionnaireError`.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.settings import SafetySettings

NRS_MIN, NRS_MAX = 0, 10
NRS_ANCHORS = ("no pain", "worst pain imaginable")
#: FHIR Observation code: "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
NRS_LOINC = "72514-3"

SSQ_ITEMS = ("General discomfort", "Fatigue", "Headache", "Eye strain", "Difficulty focusing",
             "Increased salivation", "Sweating", "Nausea", "Difficulty concentrating",
             "Fullness of head", "Blurred vision", "Dizzy (eyes open)", "Dizzy (eyes closed)",
             "Vertigo", "Stomach awareness", "Burping")
SSQ_LEVELS = ("None", "Slight", "Moderate", "Severe")
#: 1-based item numbers of each subscale (items 1, 5, 9 and 11 count twice)
SSQ_SUBSCALES: dict[str, tuple[int, ...]] = {
    "nausea": (1, 6, 7, 8, 9, 15, 16),
    "oculomotor": (1, 2, 3, 4, 5, 9, 11),
    "disorientation": (5, 10, 11, 12, 13, 14),
}
SSQ_WEIGHTS = {"nausea": 9.54, "oculomotor": 7.58, "disorientation": 13.92}
SSQ_TOTAL_WEIGHT = 3.74

PCS_ITEM_COUNT = 13
PCS_SUBSCALES: dict[str, tuple[int, ...]] = {
    "rumination": (8, 9, 10, 11),
    "magnification": (6, 7, 13),
    "helplessness": (1, 2, 3, 4, 5, 12),
}


class QuestionnaireError(VrgmiError, ValueError):
    """An answer is missing, not a whole number, or outside its scale."""


def _whole(value: Any, lo: int, hi: int, label: str) -> int:
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value != int(value)):
        raise QuestionnaireError(f"{label} = {value!r} must be a whole number {lo}..{hi}")
    if not lo <= value <= hi:
        raise QuestionnaireError(f"{label} = {value!r} is outside {lo}..{hi}")
    return int(value)


def check_nrs(value: Any) -> int:
    """``value`` as a pain NRS score 0..10, or a one-line :class:`QuestionnaireError`."""
    return _whole(value, NRS_MIN, NRS_MAX, "pain NRS")


def pain_flare(pre: Any, post: Any, rise: int = SafetySettings.flare_rise) -> bool:
    """True when pain rose by ``rise`` (``safety.flare_rise``, 3) or more from ``pre`` to
    ``post``."""
    return check_nrs(post) - check_nrs(pre) >= rise


def _answers(answers: Sequence[Any], count: int, hi: int, name: str) -> list[int]:
    if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
        raise QuestionnaireError(f"{name}: answers must be a list of {count} numbers")
    if len(answers) != count:
        raise QuestionnaireError(f"{name}: {len(answers)} answers given, {count} needed")
    return [_whole(a, 0, hi, f"{name} item {i + 1}") for i, a in enumerate(answers)]


@dataclass(frozen=True)
class SSQScores:
    """Raw subscale sums and the weighted scores of one SSQ."""

    nausea_raw: int
    oculomotor_raw: int
    disorientation_raw: int
    nausea: float
    oculomotor: float
    disorientation: float
    total: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def score_ssq(answers: Sequence[int]) -> SSQScores:
    """Score 16 SSQ answers (0..3 each, in :data:`SSQ_ITEMS` order)."""
    a = _answers(answers, len(SSQ_ITEMS), len(SSQ_LEVELS) - 1, "SSQ")
    raw = {name: sum(a[i - 1] for i in items) for name, items in SSQ_SUBSCALES.items()}
    return SSQScores(raw["nausea"], raw["oculomotor"], raw["disorientation"],
                     raw["nausea"] * SSQ_WEIGHTS["nausea"],
                     raw["oculomotor"] * SSQ_WEIGHTS["oculomotor"],
                     raw["disorientation"] * SSQ_WEIGHTS["disorientation"],
                     sum(raw.values()) * SSQ_TOTAL_WEIGHT)


def score_pcs(answers: Sequence[int]) -> dict[str, int]:
    """Score 13 PCS answers (0..4): ``total`` (0..52) and the three subscale sums."""
    a = _answers(answers, PCS_ITEM_COUNT, 4, "PCS")
    out = {name: sum(a[i - 1] for i in items) for name, items in PCS_SUBSCALES.items()}
    out["total"] = sum(a)
    return out


def ssq_alerts(answers: Sequence[Any], baseline_total: float | None = None,
               total_alert: float = SafetySettings.ssq_total_alert,
               rise_alert: float = SafetySettings.ssq_rise_alert,
               severe_alert: bool = SafetySettings.ssq_severe_alert) -> list[str]:
    """Why an SSQ (16 answers 0..3) should alert the therapist, one short reason each; ``[]``
    when it should not. Alerts: the total score at or above ``total_alert``; the total
    ``rise_alert`` or more above ``baseline_total`` (the pre-session SSQ); with
    ``severe_alert``, any symptom rated severe."""
    a = _answers(answers, len(SSQ_ITEMS), len(SSQ_LEVELS) - 1, "SSQ")
    total = score_ssq(a).total
    out = []
    if total >= total_alert:
        out.append(f"SSQ total {total:.1f} (alert at {total_alert:g})")
    if baseline_total is not None and total - baseline_total >= rise_alert:
        out.append(f"SSQ total {total - baseline_total:.1f} above the baseline "
                   f"(alert at {rise_alert:g})")
    severe = [SSQ_ITEMS[i].lower() for i, v in enumerate(a) if v == len(SSQ_LEVELS) - 1]
    if severe_alert and severe:
        out.append(f"severe {', '.join(severe)}")
    return out
