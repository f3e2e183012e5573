"""When to suggest the next complexity level of imagery movements (docs/imagery.md).

Rule, over the last ``window`` trials at the current level that have a chronometry ratio and
both KVIQ ratings, leaving out those flagged ``intact_moved`` (the intact limb moved while
imagining: the patient may have moved instead of imagining):

* **up** (level + 1; at level 3 it stays, reported as met at the top level) when the
  mean absolute log ratio is at most ln 1.25 (the imagined time is on average within a
  factor 1.25 of the executed time, either way: the band 0.8..1.25) and the mean visual and the mean kinesthetic ratings are both >= 3
  ("moderately clear" / "moderately intense");
* **down** (level - 1, at least 1) when either mean rating is below 2;
* **stay** otherwise, or while fewer than ``window`` such trials exist.

The suggestion is reported in the scene summary and carried over (:mod:`vrgmi.progress`): the
next imagery block, in this session or the next, starts at the suggested level unless the
program's step fixes the level (the therapist may always set it). A block of the default
size (:data:`WINDOW` movements, the scene's ``movements`` default) decides on its own, and
every level of each limb has at least :data:`WINDOW` movements (tests check both). No
Panda3D here.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: trials a decision needs: also the default number of movements in an imagery block
WINDOW = 5
RATIO_BAND = 1.25
MIN_RATING_UP = 3.0
MIN_RATING_STAY = 2.0


def suggest_level(trials: Sequence[dict[str, Any]], level: int, window: int = WINDOW,
                  ratio_band: float = RATIO_BAND) -> dict[str, Any]:
    """``{"level", "suggested_level", "advice", "reason", "n", "ratio_error",
    "mean_visual", "mean_kinesthetic"}`` from trial records (dicts with ``level``, ``ratio``,
    ``visual``, ``kinesthetic``)."""
    usable = [t for t in trials if t.get("level") == level and t.get("ratio")
              and t.get("visual") is not None and t.get("kinesthetic") is not None
              and not t.get("intact_moved")]
    recent = usable[-window:]
    out: dict[str, Any] = {"level": level, "suggested_level": level, "advice": "stay",
                           "n": len(recent), "ratio_error": None, "mean_visual": None,
                           "mean_kinesthetic": None}
    if len(recent) < window:
        out["reason"] = f"{len(recent)} of {window} complete trials at level {level}"
        return out
    err = sum(abs(math.log(t["ratio"])) for t in recent) / len(recent)
    vis = sum(t["visual"] for t in recent) / len(recent)
    kin = sum(t["kinesthetic"] for t in recent) / len(recent)
    out.update(ratio_error=round(err, 4), mean_visual=round(vis, 3),
               mean_kinesthetic=round(kin, 3))
    in_band = err <= math.log(ratio_band)
    if in_band and vis >= MIN_RATING_UP and kin >= MIN_RATING_UP:
        if level < 3:
            out.update(suggested_level=level + 1, advice="up")
        out["reason"] = (f"ratio within x{ratio_band:g} and ratings >= {MIN_RATING_UP:g} "
                         f"over the last {window} trials"
                         + ("" if level < 3 else " (already at the top level)"))
    elif vis < MIN_RATING_STAY or kin < MIN_RATING_STAY:
        if level > 1:
            out.update(suggested_level=level - 1, advice="down")
        out["reason"] = f"mean rating below {MIN_RATING_STAY:g} over the last {window} trials"
    else:
        out["reason"] = ("ratio outside the band" if not in_band
                         else f"ratings below {MIN_RATING_UP:g}")
    return out
