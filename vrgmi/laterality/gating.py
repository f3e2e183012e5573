"""The numbers behind the laterality gate (:func:`vrgmi.program.gate`), from the probe
figures of the session summaries (:func:`vrgmi.session.session_summary`: accuracy per side,
median RT of correct answers per side, trials per side). No Panda3D here.

A 24-trial probe has 12 pictures a side, so one session's accuracy is uncertain by about
+-10 points (binomial SD at 85 %): judging every session on its own, as the gate first did,
stops a patient at 86 % true accuracy about half the sessions, and a week of sessions almost
always. So the gate judges:

* the norms on the probes **pooled over the last ``stable_days`` days**
  (:func:`pool`: accuracy = correct / trials per side; RT = the median of the sessions'
  median RTs per side);
* **stability** day by day (:func:`day_holds`): a day holds when on each side its pooled
  accuracy is not below the norm beyond chance, i.e. the one-sided upper Wilson bound at
  ``confidence`` reaches ``accuracy_min``, and its median RT meets the norm. The default
  confidence (``norms.day_confidence`` = 0.996) spreads a 5 % false alarm over the 14 checks
  of a week (7 days x 2 sides), so one unlucky day of a patient at the norm does not restart
  the week; a clearly bad day (e.g. 40 % of 20) does. A truly impaired patient fails the
  pooled norm, whatever single days show.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from statistics import NormalDist
from typing import Any

SIDES = ("left", "right")


def pool(summaries: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The probe figures of several sessions together (the ``laterality`` dict of a session
    summary: ``accuracy``, ``rt_s``, ``trials`` per side); None without any probe. A summary
    without trial counts weighs as one trial, and the pooled count is then None (unknown:
    :func:`day_holds` takes the accuracy as exact)."""
    labs = [s["laterality"] for s in summaries if s.get("laterality")]
    if not labs:
        return None
    out: dict[str, dict[str, Any]] = {"accuracy": {}, "rt_s": {}, "trials": {}}
    for side in SIDES:
        hits = n = 0.0
        counted = True
        rts = []
        for lab in labs:
            acc = (lab.get("accuracy") or {}).get(side)
            k = (lab.get("trials") or {}).get(side)
            if acc is not None:
                counted = counted and bool(k)
                hits, n = hits + acc * (k or 1), n + (k or 1)
            if (lab.get("rt_s") or {}).get(side) is not None:
                rts.append(lab["rt_s"][side])
        out["accuracy"][side] = hits / n if n else None
        out["rt_s"][side] = statistics.median(rts) if rts else None
        out["trials"][side] = int(round(n)) if counted else None
    return out


def upper_bound(p: float, n: int, confidence: float) -> float:
    """One-sided upper Wilson score bound of a proportion ``p`` seen in ``n`` trials."""
    if n <= 0:
        return 1.0
    z = NormalDist().inv_cdf(confidence)
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z2 / n))


def day_holds(figures: Mapping[str, Any] | None, accuracy_min: float, rt_limit_s: float,
              confidence: float) -> bool:
    """Whether one day's pooled probe figures are consistent with the norms (module doc)."""
    if figures is None:
        return False
    for side in SIDES:
        acc, rt = figures["accuracy"][side], figures["rt_s"][side]
        if acc is None or rt is None or rt > rt_limit_s:
            return False
        n = figures["trials"][side]
        if (acc if n is None else upper_bound(acc, n, confidence)) < accuracy_min:
            return False
    return True
