"""Proprioceptive drift: where the patient feels the phantom, before and after a mirror block.

The drift task (:mod:`vrgmi.scenes.drift`) notes where the phantom hand (foot) is drawn,
fades the view to the plain room, and asks the patient to place the intact hand (foot) as
the mirror image of where they feel the missing one. The pointed position mirrored across
the body's sagittal plane (torso frame, :func:`vrgmi.body.mirror.mirror_points`) is the
*felt* position; its distance from the drawn position is the pointing error (cm).

After the block, the same task again: the drift toward the virtual limb is
``error before - error after`` (cm; positive: the felt phantom moved toward the drawn one),
as in the rubber-hand literature (Botvinick and Cohen 1998; Tsakiris and Haggard 2005).
:func:`drift_rows` also gives the felt position's shift projected on the direction from
the first felt position toward the drawn one (``shift_toward_cm``). No rendering.
"""
from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

import numpy as np

from vrgmi.body.mirror import mirror_points
from vrgmi.spatial import quat_rotate

#: the scene whose trials these are
SCENE = "proprioceptive_drift"


def felt_position(pointed: np.ndarray, torso: np.ndarray) -> np.ndarray:
    """The pointed position (3,) of the intact hand or foot mirrored into the phantom's side
    (the body frame ``torso`` (7,))."""
    out = np.zeros((1, 3))
    return mirror_points(np.asarray(pointed, dtype=np.float64)[None, :], torso, out)[0]


def pointing_error(felt: np.ndarray, drawn: np.ndarray, torso: np.ndarray) -> dict[str, float]:
    """``error_cm`` (distance) and the felt - drawn difference in the body frame (cm):
    ``lateral_cm`` (+ toward the body's right), ``forward_cm``, ``up_cm``."""
    d = np.asarray(felt, dtype=np.float64) - np.asarray(drawn, dtype=np.float64)
    q = torso[3:]
    local = quat_rotate(np.array([-q[0], -q[1], -q[2], q[3]]), d)
    return {"error_cm": round(100.0 * float(np.linalg.norm(d)), 2),
            "lateral_cm": round(100.0 * float(local[0]), 2),
            "forward_cm": round(100.0 * float(local[1]), 2),
            "up_cm": round(100.0 * float(local[2]), 2)}


def _mean_point(rows: list[dict[str, Any]], key: str) -> np.ndarray | None:
    pts = [r[key] for r in rows if isinstance(r.get(key), list) and len(r[key]) == 3]
    return np.mean(np.array(pts, dtype=np.float64), axis=0) if pts else None


def drift_rows(trials: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per session and mirror block (``pair``): the mean pointing error before and after
    (cm), ``drift_cm`` = before - after, ``shift_toward_cm`` and the pointings counted.
    ``trials``: dicts with ``session`` and ``data`` (the drift scene's trial records; timed
    out pointings are left out). A block with only one side has ``drift_cm`` None."""
    groups: dict[tuple[str, int], dict[str, list[dict[str, Any]]]] = {}
    for t in trials:
        d = t.get("data") or {}
        if d.get("timeout") or not isinstance(d.get("error_cm"), (int, float)):
            continue
        moment = d.get("moment")
        if moment not in ("pre", "post"):
            continue
        key = (str(t.get("session")), int(d.get("pair") or 0))
        groups.setdefault(key, {"pre": [], "post": []})[moment].append(d)
    out = []
    for (session, pair), sides in groups.items():
        pre = [r["error_cm"] for r in sides["pre"]]
        post = [r["error_cm"] for r in sides["post"]]
        row: dict[str, Any] = {"session": session, "pair": pair, "n_pre": len(pre),
                               "n_post": len(post),
                               "pre_cm": round(statistics.fmean(pre), 2) if pre else None,
                               "post_cm": round(statistics.fmean(post), 2) if post else None,
                               "drift_cm": None, "shift_toward_cm": None}
        if pre and post:
            row["drift_cm"] = round(row["pre_cm"] - row["post_cm"], 2)
            felt_pre, felt_post = _mean_point(sides["pre"], "felt"), _mean_point(sides["post"],
                                                                                  "felt")
            drawn = _mean_point(sides["pre"] + sides["post"], "drawn")
            if felt_pre is not None and felt_post is not None and drawn is not None:
                toward = drawn - felt_pre
                norm = float(np.linalg.norm(toward))
                if norm > 1e-6:
                    row["shift_toward_cm"] = round(
                        100.0 * float(np.dot(felt_post - felt_pre, toward / norm)), 2)
        out.append(row)
    return out
