"""The schedule that normalises a shaped phantom toward the mirrored intact limb (no Panda3D).

A therapist shapes the phantom as the patient feels it (:mod:`vrgmi.body.shaping`); the
program's :class:`ShapingPlan` then walks it to the mirror image in ``steps`` equal steps:
at step ``k`` the shape's weight is ``1 - k / steps`` and its telescoping ``telescoping *
(1 - k / steps)``. Like the program's phases (:func:`vrgmi.program.gate`) a step advances
only when its criteria are met, judged after every session (:func:`shaping_gate`):
``sessions_per_step`` completed sessions at this step (the pace), pain not rising over
them (mean NRS after minus before at most ``max_pain_rise``) and no recent pain flare.
docs/phantom-shaping.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.settings import SafetySettings, ShapingSettings


class ShapingPlanError(VrgmiError, ValueError):
    """A shaping plan value is wrong (one line naming the key)."""


@dataclass
class ShapingPlan:
    """How the patient's phantom feels (``posture``, ``telescoping``) and where the schedule
    stands (``step`` of ``steps``; ``steps`` = the mirror image). ``steps``,
    ``sessions_per_step`` and ``max_pain_rise`` None = the ``[shaping]`` settings.
    ``sessions`` holds the completed sessions at this step (session, date, nrs_pre,
    nrs_post, pain_flare); ``history`` every change (who, when, what)."""

    posture: str = "clenched_fist"
    telescoping: float = 0.0
    captured: list[float] = field(default_factory=list)
    steps: int | None = None
    sessions_per_step: int | None = None
    max_pain_rise: float | None = None
    step: int = 0
    sessions: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)

    def resolved(self, settings: ShapingSettings | None = None) -> tuple[int, int, float]:
        """(steps, sessions_per_step, max_pain_rise) with None filled from ``settings``."""
        s = settings or ShapingSettings()
        return (self.steps or s.steps, self.sessions_per_step or s.sessions_per_step,
                s.max_pain_rise if self.max_pain_rise is None else self.max_pain_rise)

    def weight(self, settings: ShapingSettings | None = None) -> float:
        """The shape's weight at this step (1 = as felt, 0 = the mirror image)."""
        steps = self.resolved(settings)[0]
        return max(0.0, 1.0 - min(self.step, steps) / steps)

    def shape(self, settings: ShapingSettings | None = None) -> dict[str, Any]:
        """The shape at this step: posture, weight, telescoping."""
        w = self.weight(settings)
        return {"posture": self.posture, "weight": w, "telescoping": self.telescoping * w}

    def done(self, settings: ShapingSettings | None = None) -> bool:
        """True once the phantom is the mirror image."""
        return self.step >= self.resolved(settings)[0]


def check_shaping(plan: Any, max_telescoping: float = ShapingSettings.max_telescoping) -> None:
    """One-line :class:`ShapingPlanError` for the first bad value of ``plan``."""
    if not isinstance(plan, ShapingPlan):
        raise ShapingPlanError("program: shaping must be a table (posture, telescoping, ...)")
    if not isinstance(plan.posture, str) or not plan.posture or len(plan.posture) > 40:
        raise ShapingPlanError("program: shaping.posture must be a posture name")
    for key, lo, hi, whole in (("telescoping", 0.0, max_telescoping, False),
                               ("steps", 1, 20, True), ("sessions_per_step", 1, 30, True),
                               ("max_pain_rise", 0.0, 5.0, False), ("step", 0, 20, True)):
        v = getattr(plan, key)
        if v is None and key in ("steps", "sessions_per_step", "max_pain_rise"):
            continue
        if isinstance(v, bool) or not isinstance(v, int if whole else (int, float)) \
                or not math.isfinite(v) or not lo <= v <= hi:
            raise ShapingPlanError(f"program: shaping.{key} = {str(v)[:20]} must be a "
                                   f"{'whole number' if whole else 'number'} {lo:g}..{hi:g}")
    if not isinstance(plan.captured, list) or not all(
            isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a)
            for a in plan.captured):
        raise ShapingPlanError("program: shaping.captured must be a list of angles (rad)")
    for key in ("sessions", "history"):
        v = getattr(plan, key)
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise ShapingPlanError(f"program: shaping.{key} must be a list of tables")


@dataclass
class ShapingCriterion:
    """One criterion of a shaping step: met or not, the value, the threshold, why."""

    met: bool
    value: Any
    threshold: Any
    reason: str


def shaping_gate(plan: ShapingPlan, settings: ShapingSettings | None = None,
                 today: date | None = None,
                 flare_hold_days: int = SafetySettings.flare_hold_days) -> dict[str, Any]:
    """Whether ``plan`` may take its next step: ``{"step", "advance", "criteria",
    "reasons"}`` over ``plan.sessions`` (the completed sessions at this step)."""
    steps, pace, max_rise = plan.resolved(settings)
    if plan.step >= steps:
        return {"step": plan.step, "advance": False, "criteria": {},
                "reasons": ["the phantom is the mirror image: the schedule is done"]}
    done = [s for s in plan.sessions if s.get("reason") == "completed"]
    crit: dict[str, ShapingCriterion] = {}
    crit["sessions"] = ShapingCriterion(
        len(done) >= pace, len(done), pace,
        f"{len(done)} of {pace} completed sessions at step {plan.step}")
    rises = [s["nrs_post"] - s["nrs_pre"] for s in done
             if isinstance(s.get("nrs_pre"), (int, float))
             and isinstance(s.get("nrs_post"), (int, float))]
    mean = sum(rises) / len(rises) if rises else None
    crit["pain"] = ShapingCriterion(
        mean is not None and mean <= max_rise, None if mean is None else round(mean, 3),
        max_rise, "no pain ratings at this step yet" if mean is None else
        f"pain after sessions {mean:+.1f} on average (at most {max_rise:+g})")
    flares = [date.fromisoformat(s["date"]) for s in plan.sessions
              if s.get("pain_flare") and s.get("date")]
    if flares:
        last = max(flares)
        today = today or max(date.fromisoformat(s["date"]) for s in plan.sessions
                             if s.get("date"))
        ok = (today - last).days >= flare_hold_days
        crit["no_pain_flare"] = ShapingCriterion(
            ok, last.isoformat(), flare_hold_days,
            f"no pain flare in the last {flare_hold_days} days" if ok else
            f"a pain flare on {last.isoformat()} holds this step")
    advance = all(c.met for c in crit.values())
    return {"step": plan.step, "advance": advance,
            "criteria": {k: vars(c) for k, c in crit.items()},
            "reasons": ([f"step {plan.step} done: next step {plan.step + 1} of {steps}"]
                        if advance else [c.reason for c in crit.values() if not c.met])}


def after_session(plan: ShapingPlan, outcome: dict[str, Any],
                  settings: ShapingSettings | None = None,
                  flare_hold_days: int = SafetySettings.flare_hold_days) -> dict[str, Any]:
    """Add one session's ``outcome`` (session, date, reason, nrs_pre, nrs_post,
    pain_flare) to ``plan`` (changed in place), gate it and take the step when it may;
    returns the decision (its ``advance`` says whether the step was taken)."""
    plan.sessions.append(dict(outcome))
    decision = shaping_gate(plan, settings, None, flare_hold_days)
    if decision["advance"]:
        plan.step += 1
        plan.sessions = []
        plan.history.append({"date": outcome.get("date"), "by": "schedule",
                             "step": plan.step, **plan.shape(settings)})
    return decision
