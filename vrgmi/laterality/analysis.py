"""Laterality figures per block and per session, from the ``trial`` records.

Definitions (docs/laterality.md):

* **accuracy** = correct answers / all trials (a timeout is a wrong answer);
* **RT** (ms) uses only correct answers (a wrong answer's time says little about the
  judgement, a timeout has none): mean, median and sample SD;
* **side difference** = right - left, and, when the affected (amputated) side is known,
  affected - unaffected: positive RT = that side is slower (CLINICAL.md: patients are
  slower for the affected side, so both sides and the difference are reported);
* **RT by angle**: correct RTs grouped by the stimulus's total rotation angle rounded to
  the nearest multiple of ``angle_bin_deg``, and the least-squares slope (ms per degree)
  of RT on the angle (CLINICAL.md: RT grows with the angle);
* **medial vs lateral** (:mod:`vrgmi.laterality.stimuli`): figures per class and
  lateral - medial mean RT, over all trials and over trials rotated about more than one
  axis (where lateral is expected slower);
* **norms** (:mod:`vrgmi.laterality.norms`, from the ``[norms]`` settings): accuracy
  ``meets`` / ``below`` the minimum; median RT ``within`` mean +- SD, ``slower`` or
  ``faster``; ``meets`` = accuracy met and median RT at most mean + SD (the gate's rule),
  overall and per side; the side difference (right - left median RT) ``within`` or
  ``beyond`` the left/right limit. A retest
  inflates scores by 8-20 % (CLINICAL.md), so one session's verdict is read as part of
  the trend, never alone.

Every figure that cannot be computed (no trials, no correct answer) is None. No Panda3D.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

import numpy as np

from vrgmi.laterality.norms import Norms, norms_for

Trial = Mapping[str, Any]


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def _correct_rts(trials: list[Trial]) -> np.ndarray:
    return np.array([float(t["rt_ms"]) for t in trials
                     if t["correct"] and not t["timeout"] and t["rt_ms"] is not None])


def stats(trials: Iterable[Trial]) -> dict[str, Any]:
    """n, correct, timeouts, accuracy and the correct-answer RT mean / median / SD (ms)."""
    trials = list(trials)
    n = len(trials)
    correct = sum(1 for t in trials if t["correct"])
    rts = _correct_rts(trials)
    return {
        "n": n,
        "correct": correct,
        "timeouts": sum(1 for t in trials if t["timeout"]),
        "accuracy": _round(correct / n if n else None, 4),
        "rt_mean_ms": _round(rts.mean() if rts.size else None, 1),
        "rt_median_ms": _round(float(np.median(rts)) if rts.size else None, 1),
        "rt_sd_ms": _round(rts.std(ddof=1) if rts.size > 1 else None, 1),
    }


def _difference(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, digits in (("accuracy", 4), ("rt_mean_ms", 1), ("rt_median_ms", 1)):
        out[key] = (None if a[key] is None or b[key] is None
                    else _round(a[key] - b[key], digits))
    return out


def rt_slope(trials: Iterable[Trial]) -> tuple[float | None, float | None]:
    """Least-squares (slope ms/deg, intercept ms) of correct RT on the rotation angle."""
    pts = np.array([(float(t["rotation_deg"]), float(t["rt_ms"])) for t in trials
                    if t["correct"] and not t["timeout"] and t["rt_ms"] is not None])
    if len(pts) < 2 or np.ptp(pts[:, 0]) == 0.0:
        return None, None
    a = pts[:, 0] - pts[:, 0].mean()
    slope = float((a * (pts[:, 1] - pts[:, 1].mean())).sum() / (a * a).sum())
    return _round(slope, 3), _round(pts[:, 1].mean() - slope * pts[:, 0].mean(), 1)


def by_angle(trials: Iterable[Trial], bin_deg: float = 30.0) -> list[dict[str, Any]]:
    """Figures per rotation-angle bin (angles rounded to multiples of ``bin_deg``)."""
    groups: dict[float, list[Trial]] = {}
    for t in trials:
        key = round(float(t["rotation_deg"]) / bin_deg) * bin_deg
        groups.setdefault(key, []).append(t)
    return [{"angle_deg": key, **stats(groups[key])} for key in sorted(groups)]


def medial_lateral(trials: Iterable[Trial]) -> dict[str, Any]:
    """Figures for medial, lateral and neutral stimuli; lateral - medial mean RT (ms)."""
    trials = list(trials)
    out: dict[str, Any] = {c: stats(t for t in trials if t["medial_lateral"] == c)
                           for c in ("medial", "lateral", "neutral")}
    m, lat = out["medial"]["rt_mean_ms"], out["lateral"]["rt_mean_ms"]
    out["lateral_minus_medial_ms"] = None if m is None or lat is None else _round(lat - m, 1)
    return out


def compare_with_norms(figures: Mapping[str, Any], norms: Norms) -> dict[str, Any]:
    """Verdicts against ``norms`` for the figures of :func:`figures`."""

    def verdicts(s: Mapping[str, Any]) -> dict[str, Any]:
        acc, rt = s["accuracy"], s["rt_median_ms"]
        rt_s = None if rt is None else rt / 1000.0
        return {"accuracy": None if acc is None else
                ("meets" if norms.accuracy_ok(acc) else "below"),
                "rt": norms.rt_verdict(rt_s),
                "meets": norms.accuracy_ok(acc) and norms.rt_ok(rt_s)}

    out: dict[str, Any] = {"norm": asdict(norms), **verdicts(figures)}
    out["left"], out["right"] = verdicts(figures["left"]), verdicts(figures["right"])
    diff = figures["right_minus_left"]["rt_median_ms"]
    out["side_difference"] = (None if norms.side_difference_ms is None or diff is None else
                              "within" if abs(diff) <= norms.side_difference_ms else "beyond")
    return out


def figures(trials: Iterable[Trial], norms: Norms | None = None,
            affected_side: str | None = None, angle_bin_deg: float = 30.0) -> dict[str, Any]:
    """Every figure of the module docstring for one set of trials (a block, a session)."""
    trials = list(trials)
    out = stats(trials)
    left = stats(t for t in trials if t["side"] == "left")
    right = stats(t for t in trials if t["side"] == "right")
    out.update(left=left, right=right, right_minus_left=_difference(right, left),
               affected_side=affected_side, affected_minus_unaffected=None)
    if affected_side in ("left", "right"):
        a, u = (left, right) if affected_side == "left" else (right, left)
        out["affected_minus_unaffected"] = _difference(a, u)
    out["by_angle"] = by_angle(trials, angle_bin_deg)
    out["rt_slope_ms_per_deg"], out["rt_intercept_ms"] = rt_slope(trials)
    out["medial_lateral"] = medial_lateral(trials)
    out["medial_lateral_multi_axis"] = medial_lateral(t for t in trials
                                                      if len(t["axes"]) > 1)
    out["norms"] = None if norms is None else compare_with_norms(out, norms)
    return out


def session_figures(trials: Iterable[Trial], affected_side: str | None = None,
                    norms: Mapping[str, Norms] | None = None,
                    angle_bin_deg: float = 30.0) -> dict[str, Any]:
    """Session figures: ``all`` trials, per ``block`` and per ``limb``; each limb is compared
    with its own norms, all trials together only when their limbs share one norm."""
    trials = list(trials)
    limbs = sorted({t["limb"] for t in trials})
    table = {limb: norms_for(limb, dict(norms or {})) for limb in limbs}
    shared = next(iter(table.values())) if len(set(table.values())) == 1 else None
    blocks = sorted({int(t["block"]) for t in trials})
    return {
        "all": figures(trials, shared, affected_side, angle_bin_deg),
        "blocks": [{"block": b, **figures([t for t in trials if int(t["block"]) == b],
                                          shared, affected_side, angle_bin_deg)}
                   for b in blocks],
        "limbs": {limb: figures([t for t in trials if t["limb"] == limb], table[limb],
                                affected_side, angle_bin_deg) for limb in limbs},
    }

