"""Mirror-therapy levels, from simple movements to functional tasks with objects, and the
rule that moves a patient between them (docs/mirror-tasks.md "Progression"). No Panda3D.

Mirror therapy progresses from simple to functional tasks (CLINICAL.md; Moseley 2004/2006;
Ramachandran & Rogers-Ramachandran 1996; Chan 2007), as mirror-therapy protocols do: the
PACT trial's protocol (Rothgangel et al. 2018) runs basic limb movements first and
functional tasks with everyday objects later. Each level is a set of blocks (scene +
difficulty values) a session runs; the program's mirror phase holds every level's blocks,
each tagged with its level, and a session runs the blocks of the patient's current level
(:func:`vrgmi.program.Program.session_steps`).

Rule (:func:`suggest_mirror_level`), over one session's mirror trials at the current level:

* **up** (level + 1, up to the top level) with at least :data:`MIN_TRIALS` trials, a
  success rate of at least :data:`UP_SUCCESS` over them, and every block's scene at least
  :data:`UP_SCENE_SUCCESS` (no task of the level left behind);
* **down** (level - 1, at least 1) with at least :data:`MIN_TRIALS` trials and a success rate
  below :data:`DOWN_SUCCESS`;
* **stay** otherwise (too few trials: a stopped session decides nothing).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: trials a session must score at its level before the level may change
MIN_TRIALS = 12
#: success rate (all the level's trials) to move up, and every scene's own rate
UP_SUCCESS = 0.80
UP_SCENE_SUCCESS = 0.60
#: success rate below which the level goes back down
DOWN_SUCCESS = 0.50


@dataclass(frozen=True)
class MirrorBlock:
    """One block of a mirror level: a scene, its minutes and its difficulty values."""

    scene: str
    minutes: float = 4.0
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MirrorLevel:
    """A level: its number, a short name for the therapist, and its blocks."""

    level: int
    name: str
    blocks: tuple[MirrorBlock, ...]


B = MirrorBlock
#: the default levels per limb (a session at a level runs its blocks: 3 x 4 minutes)
MIRROR_LEVELS: dict[str, tuple[MirrorLevel, ...]] = {
    "arm": (
        MirrorLevel(1, "simple movements", (
            B("bilateral", params={"trials": 8}),
            B("copy_pose", params={"pose_set": "simple"}),
            B("reach_targets", params={"distance": 0.5})),),
        MirrorLevel(2, "targeted sequences", (
            B("reach_targets", params={"sequence_length": 3, "distance": 0.7}),
            B("copy_pose", params={"pose_set": "all"}),
            B("bilateral", params={"trials": 8}))),
        MirrorLevel(3, "functional: move and wipe", (
            B("cup_move"), B("wipe_table"),
            B("reach_targets", params={"sequence_length": 3, "distance": 0.8}))),
        MirrorLevel(4, "functional: pour and turn", (
            B("pour"), B("key_turn"), B("cup_move", params={"distance": 0.95}))),
    ),
    "leg": (
        MirrorLevel(1, "simple movements", (
            B("ankle_circles"), B("foot_targets"))),
        MirrorLevel(2, "targeted sequences", (
            B("foot_targets", params={"sequence_length": 3}), B("pedal_press"),
            B("ankle_circles", params={"direction": "clockwise"}))),
        MirrorLevel(3, "functional: roll and trace", (
            B("roll_ball"), B("trace_path"), B("pedal_press", params={"hold_s": 2.0}))),
        MirrorLevel(4, "functional: graded press", (
            B("press_hold"), B("roll_ball", params={"distance_m": 0.3}),
            B("trace_path", params={"waypoints": 7}))),
    ),
}


def mirror_levels(limb: str) -> tuple[MirrorLevel, ...]:
    """The default mirror levels of ``limb`` ("arm" | "leg")."""
    return MIRROR_LEVELS[limb]


def suggest_mirror_level(trials: Sequence[dict[str, Any]], level: int,
                         top: int) -> dict[str, Any]:
    """``{"level", "suggested_level", "advice", "reason", "n", "success_rate", "by_scene"}``
    from one session's mirror trial records at ``level`` (dicts with ``scene`` and
    ``success``); ``top`` is the highest level the program has."""
    n = len(trials)
    ok = sum(bool(t.get("success")) for t in trials)
    by_scene: dict[str, list[int]] = {}
    for t in trials:
        counts = by_scene.setdefault(str(t.get("scene", "")), [0, 0])
        counts[0] += bool(t.get("success"))
        counts[1] += 1
    rates = {s: round(k / m, 3) for s, (k, m) in by_scene.items()}
    rate = ok / n if n else None
    out: dict[str, Any] = {"level": level, "suggested_level": level, "advice": "stay", "n": n,
                           "success_rate": None if rate is None else round(rate, 3),
                           "by_scene": rates}
    if n < MIN_TRIALS:
        out["reason"] = f"{n} of {MIN_TRIALS} mirror trials at level {level}"
    elif rate >= UP_SUCCESS and min(rates.values()) >= UP_SCENE_SUCCESS:
        if level < top:
            out.update(suggested_level=level + 1, advice="up")
        out["reason"] = (f"{rate:.0%} of {n} trials succeeded (at least {UP_SUCCESS:.0%}, "
                         f"each task at least {UP_SCENE_SUCCESS:.0%})"
                         + ("" if level < top else "; already at the top level"))
    elif rate < DOWN_SUCCESS:
        if level > 1:
            out.update(suggested_level=level - 1, advice="down")
        out["reason"] = f"{rate:.0%} of {n} trials succeeded (below {DOWN_SUCCESS:.0%})"
    else:
        out["reason"] = (f"{rate:.0%} of {n} trials succeeded; each task at least "
                         f"{UP_SCENE_SUCCESS:.0%} and {UP_SUCCESS:.0%} overall to move up")
    return out
