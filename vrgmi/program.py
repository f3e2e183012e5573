"""A patient's Graded Motor Imagery program and the gates between its phases (no Panda3D).

GMI runs laterality -> imagery -> mirror, about two weeks each; imagery helps only after
laterality training and mirror work only after imagery (Moseley 2005, Pain 114:54; Moseley
2006, Neurology 67:2129), so a phase ends when its gate criteria are met, or when a therapist
overrides the gate (recorded with who and why). Defaults come from /work/shared/CLINICAL.md
and are all configurable; docs/program.md explains them.

Gating reads a list of per-session summaries (:func:`vrgmi.session.session_summary` builds
one from a session's events; ``laterality`` holds the figures of the session's probe block,
the fixed reference difficulty the norms describe, never the staircase's training blocks)::

    {"session": "3f2a9c1e", "date": "2025-03-14", "phase": "laterality", "minutes": 14.5,
     "nrs_pre": 6, "nrs_post": 4, "ssq_total": 7.48, "reason": "completed",
     "laterality": {"accuracy": {"left": 0.85, "right": 0.9},     # fraction correct
                    "rt_s": {"left": 1.9, "right": 1.8},      # median RT of correct answers
                    "trials": {"left": 20, "right": 20}},
     "imagery": {"ratio": 1.05, "trials": 12,       # median imagined / executed duration
                 "kviq_mean": 3.4}}                 # mean KVIQ rating (1-5) if asked

Missing figures are ``None``; a criterion without data is not met. The laterality norms
come from the ``[norms]`` settings (:class:`vrgmi.settings.NormsSettings`, passed to
:func:`gate`); a :class:`LateralityGate` value other than None overrides one for a patient.
"""
from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from vrgmi.errors import VrgmiError
from vrgmi.events import EventBus
from vrgmi.ids import PATIENT_ID_RULE, is_patient_id, shown_id
from vrgmi.laterality.gating import day_holds, pool
from vrgmi.mirror.progression import mirror_levels
from vrgmi.progress import MIRROR, check_progress
from vrgmi.progress import level as progress_level
from vrgmi.scenes.schema import Difficulty, SceneParamError
from vrgmi.scenes.base import PHASES
from vrgmi.settings import VR_SITTING_MAX_MIN, NormsSettings, SafetySettings
from vrgmi.shaping import ShapingPlan, check_shaping
from vrgmi.study.allocation import StudyPlan, check_study


#: the ``reason`` of a session a crash ended (vrgmi.records.interrupted closes it at the next
#: start): the gate never counts it as a completed session, but a pain flare in it still holds
INTERRUPTED = "interrupted"


class ProgramError(VrgmiError, ValueError):
    """A program file or value is wrong (one line naming the key)."""


@dataclass
class SceneStep:
    """One block of a session: a scene, how long it runs, and its difficulty values."""

    scene: str
    minutes: float = 5.0
    params: dict[str, Any] = field(default_factory=dict)
    #: mirror phase: the mirror level (vrgmi.mirror.progression) this block belongs to;
    #: None = every level
    level: int | None = None


#: LateralityGate field -> the [norms] setting it overrides
GATE_NORMS = {"min_accuracy": "accuracy_min", "rt_norm_s": "rt_mean_s",
              "rt_tolerance_s": "rt_sd_s", "max_side_rt_diff_s": "max_side_rt_diff_s",
              "max_side_accuracy_diff": "max_side_accuracy_diff", "stable_days": "stable_days"}


@dataclass
class LateralityGate:
    """When laterality training is done (NOI norms in CLINICAL.md), judged on the probes.
    Every norm is None by default: the clinic's ``[norms]`` settings decide; a number here
    overrides it for this patient (:data:`GATE_NORMS` names the setting each overrides)."""

    min_accuracy: float | None = None         # fraction correct, each side
    rt_norm_s: float | None = None            # median RT norm (hands and feet)
    rt_tolerance_s: float | None = None       # a median RT up to norm + tolerance meets it
    max_side_rt_diff_s: float | None = None   # left and right about equal
    max_side_accuracy_diff: float | None = None
    stable_days: int | None = None            # days the norms hold (docs/program.md)
    min_phase_days: int = 14                  # each phase runs about two weeks

    def resolved(self, norms: NormsSettings | None = None) -> LateralityGate:
        """This gate with every None filled from ``norms`` (default: the settings' defaults)."""
        norms = norms or NormsSettings()
        return dataclasses.replace(self, **{k: getattr(norms, s) for k, s in GATE_NORMS.items()
                                            if getattr(self, k) is None})


@dataclass
class ImageryGate:
    """When explicit imagery training is done (mental chronometry and KVIQ)."""

    min_sessions: int = 10
    min_phase_days: int = 14
    ratio_lo: float = 0.8               # mean imagined / executed duration
    ratio_hi: float = 1.25
    window_days: int = 7                # the ratio is averaged over this many recent days
    min_kviq_mean: float = 3.0          # mean item rating on the 1-5 KVIQ scale


def default_steps(limb: str = "arm") -> dict[str, list[SceneStep]]:
    """The scenes of each phase for an arm or leg program."""
    mirror = [SceneStep(b.scene, b.minutes, dict(b.params), lv.level)
              for lv in mirror_levels(limb) for b in lv.blocks]
    # the first laterality block opens with the probe the gate judges; one a session is enough
    return {"laterality": [SceneStep("laterality", 6.0),
                           SceneStep("laterality", 6.0, {"probe_trials": 0})],
            "imagery": [SceneStep("imagery", 6.0), SceneStep("imagery", 6.0)],
            "mirror": mirror}


@dataclass
class Program:
    """One patient's GMI program: where they are and what a session holds."""

    patient: str
    phase: str = "laterality"
    phase_started: date = field(default_factory=date.today)
    sessions_per_day: int = 3            # CLINICAL: several short sessions a day
    minutes_per_session: float = 15.0    # CLINICAL: 10-20 min; VR at most 20-30 per sitting
    break_reminder_min: float = 10.0     # offer a break after this long in the headset
    breathing_between_blocks: bool = True
    steps: dict[str, list[SceneStep]] = field(default_factory=default_steps)
    laterality: LateralityGate = field(default_factory=LateralityGate)
    imagery: ImageryGate = field(default_factory=ImageryGate)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    #: levels carried between sessions (vrgmi.progress: imagery, laterality, mirror)
    progress: dict[str, Any] = field(default_factory=dict)
    #: the phantom as felt and its schedule toward the mirror (docs/phantom-shaping.md)
    shaping: ShapingPlan | None = None
    #: randomised study conditions (docs/study-conditions.md)
    study: StudyPlan | None = None
    #: a follow-up visit in the headset ends with one laterality block (retention;
    #: docs/outcomes.md)
    follow_up_laterality: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.phase_started, datetime):   # a TOML date-time: its date counts
            self.phase_started = self.phase_started.date()
        check_program(self)

    def session_steps(self) -> list[SceneStep]:
        """The blocks of a session in the current phase; in the mirror phase those of the
        patient's mirror level (the highest level the program has at or below it) and the
        blocks without a level."""
        steps = list(self.steps.get(self.phase, []))
        levels = sorted({s.level for s in steps if s.level is not None})
        if self.phase != "mirror" or not levels:
            return steps
        want = int(progress_level(self.progress, MIRROR))
        at = max((lv for lv in levels if lv <= want), default=levels[0])
        return [s for s in steps if s.level is None or s.level == at]

    def retention_step(self) -> SceneStep | None:
        """The one laterality block of a follow-up visit (the phase's first, which opens with
        the probe), or None when ``follow_up_laterality`` is off."""
        if not self.follow_up_laterality:
            return None
        return (self.steps.get("laterality") or default_steps()["laterality"])[0]

    def top_mirror_level(self) -> int:
        """The highest mirror level among the program's mirror blocks (1 without levels)."""
        return max((s.level for s in self.steps.get("mirror", []) if s.level is not None),
                   default=1)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (dates as ISO strings)."""
        out = dataclasses.asdict(self)
        out["phase_started"] = self.phase_started.isoformat()
        return out


_LIMITS = {"sessions_per_day": (1, 12), "minutes_per_session": (1.0, VR_SITTING_MAX_MIN),
           "break_reminder_min": (1.0, 30.0)}
#: values that count something (sessions, days): whole numbers only
_WHOLE = {"sessions_per_day", "stable_days", "min_phase_days", "min_sessions", "window_days"}


def check_program(p: Program) -> None:
    """Raise a one-line :class:`ProgramError` for the first bad value in ``p``."""
    if not is_patient_id(p.patient):
        raise ProgramError(f"program: patient = {shown_id(p.patient)} {PATIENT_ID_RULE}")
    if p.phase not in PHASES:
        raise ProgramError(f"program: phase = {p.phase!r} is not one of {', '.join(PHASES)}")
    if not isinstance(p.phase_started, date) or isinstance(p.phase_started, datetime):
        raise ProgramError(f"program: phase_started = {p.phase_started!r} must be a date")
    for key, (lo, hi) in _LIMITS.items():
        _check_number(f"program: {key}", key, getattr(p, key), lo, hi)
    if not isinstance(p.follow_up_laterality, bool):
        raise ProgramError("program: follow_up_laterality must be true or false")
    if not isinstance(p.overrides, list) or not all(isinstance(o, dict) for o in p.overrides):
        raise ProgramError("program: overrides must be a list of tables (date, phase, "
                           "advance, by, reason)")
    for phase, steps in p.steps.items():
        if phase not in PHASES:
            raise ProgramError(f"program: steps has unknown phase {phase!r}")
        for k, s in enumerate(steps):
            if not isinstance(s.scene, str) or not s.scene:
                raise ProgramError(f"program: steps.{phase}[{k}].scene must be a scene name")
            if isinstance(s.minutes, bool) or not isinstance(s.minutes, (int, float)) \
                    or not 0.1 <= s.minutes <= VR_SITTING_MAX_MIN:
                raise ProgramError(f"program: steps.{phase}[{k}].minutes = {s.minutes!r} "
                                   f"must be 0.1..{VR_SITTING_MAX_MIN:g}")
            if not isinstance(s.params, dict):
                raise ProgramError(f"program: steps.{phase}[{k}].params must be a table")
            if s.level is not None and (isinstance(s.level, bool) or not isinstance(
                    s.level, int) or not 1 <= s.level <= 20):
                raise ProgramError(f"program: steps.{phase}[{k}].level = {s.level!r} must "
                                   "be a whole number 1..20")
    problem = check_progress(p.progress)
    if problem is not None:
        raise ProgramError(f"program: {problem}")
    try:
        if p.shaping is not None:
            check_shaping(p.shaping)
        if p.study is not None:
            check_study(p.study)
    except VrgmiError as exc:
        raise ProgramError(str(exc)) from None
    g = p.laterality
    _check_gate("laterality", g, {"min_accuracy": (0.5, 1.0), "rt_norm_s": (0.5, 5.0),
                                  "rt_tolerance_s": (0.0, 3.0), "max_side_rt_diff_s": (0.0, 3.0),
                                  "max_side_accuracy_diff": (0.0, 0.5),
                                  "stable_days": (1, 60), "min_phase_days": (0, 90)},
                optional=tuple(GATE_NORMS))
    _check_gate("imagery", p.imagery, {"min_sessions": (0, 500), "min_phase_days": (0, 90),
                                       "ratio_lo": (0.1, 1.0), "ratio_hi": (1.0, 10.0),
                                       "window_days": (1, 60), "min_kviq_mean": (1.0, 5.0)})


def _check_gate(name: str, gate: Any, limits: dict[str, tuple[float, float]],
                optional: tuple[str, ...] = ()) -> None:
    for key, (lo, hi) in limits.items():
        v = getattr(gate, key)
        if v is None and key in optional:
            continue
        _check_number(f"program: {name}.{key}", key, v, lo, hi)


def _check_number(label: str, key: str, v: Any, lo: float, hi: float) -> None:
    """A one-line ProgramError unless ``v`` is a number in lo..hi (whole for :data:`_WHOLE`)."""
    whole = key in _WHOLE
    if isinstance(v, bool) or not isinstance(v, int if whole else (int, float)) \
            or not lo <= v <= hi:
        raise ProgramError(f"{label} = {shown_value(v)} must be a "
                           f"{'whole number' if whole else 'number'} {lo:g}..{hi:g}")


def shown_value(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a one-line message."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def check_steps(program: Program, scenes: dict[str, type]) -> None:
    """Check that every step names an installed scene and valid difficulty values; a
    one-line :class:`ProgramError` naming the step otherwise."""
    for phase, steps in program.steps.items():
        for k, s in enumerate(steps):
            cls = scenes.get(s.scene)
            if cls is None:
                raise ProgramError(f"program: steps.{phase}[{k}] names scene "
                                   f"{shown_value(s.scene)}, which is not installed "
                                   "(see `vrgmi scenes`)")
            try:
                Difficulty(cls.params, s.params, s.scene)
            except SceneParamError as exc:
                raise ProgramError(f"program: steps.{phase}[{k}]: {exc}") from None


# --- gating -------------------------------------------------------------------------------

@dataclass
class Criterion:
    """One gate criterion: met or not, the measured value, the threshold, and why."""

    met: bool
    value: Any
    threshold: Any
    reason: str


@dataclass
class GateDecision:
    """Whether the patient may move on from ``phase`` to ``next_phase``."""

    phase: str
    advance: bool
    next_phase: str | None
    criteria: dict[str, Criterion]
    reasons: list[str]
    override: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the data of a ``gate_decision`` event)."""
        return {"phase": self.phase, "advance": self.advance, "next_phase": self.next_phase,
                "override": self.override, "reasons": list(self.reasons),
                "criteria": {k: dataclasses.asdict(c) for k, c in self.criteria.items()}}


def _next_phase(phase: str) -> str | None:
    i = PHASES.index(phase)
    return PHASES[i + 1] if i + 1 < len(PHASES) else None


def _date(value: Any) -> date:
    if isinstance(value, datetime):          # a TOML date-time: its date
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ProgramError(f"program: session date {value!r} is not YYYY-MM-DD") from None


def _phase_days(program: Program, today: date, min_days: int) -> Criterion:
    days = (today - program.phase_started).days + 1
    return Criterion(days >= min_days, days, min_days,
                     f"{days} of at least {min_days} days in the {program.phase} phase")


def _laterality_ok(lat: dict[str, Any] | None, g: LateralityGate) -> dict[str, Criterion]:
    """The norm criteria on pooled probe figures (:func:`vrgmi.laterality.gating.pool`)."""
    lat = lat or {}
    acc, rt = lat.get("accuracy") or {}, lat.get("rt_s") or {}
    a = [acc.get(side) for side in ("left", "right")]
    r = [rt.get(side) for side in ("left", "right")]
    out: dict[str, Criterion] = {}
    have_a, have_r = None not in a, None not in r
    low = min(a) if have_a else None
    out["accuracy"] = Criterion(have_a and low >= g.min_accuracy,
                                None if low is None else round(low, 4), g.min_accuracy,
                                "no laterality probe answers for both sides" if not have_a
                                else f"probe accuracy {low:.0%} on the weaker side over the "
                                f"last {g.stable_days} days (at least {g.min_accuracy:.0%} "
                                "needed)")
    limit = g.rt_norm_s + g.rt_tolerance_s
    slow = max(r) if have_r else None
    out["response_time"] = Criterion(have_r and slow <= limit,
                                     None if slow is None else round(slow, 4), limit,
                                     "no response times for both sides" if not have_r else
                                     f"probe response time {slow:.2f} s on the slower side "
                                     f"(norm {g.rt_norm_s:g} +/- {g.rt_tolerance_s:g} s)")
    dr = abs(r[0] - r[1]) if have_r else None
    da = abs(a[0] - a[1]) if have_a else None
    even = have_r and have_a and dr <= g.max_side_rt_diff_s and da <= g.max_side_accuracy_diff
    out["left_right_equal"] = Criterion(
        bool(even), None if dr is None or da is None else {"rt_s": round(dr, 4),
                                                           "accuracy": round(da, 4)},
        {"rt_s": g.max_side_rt_diff_s, "accuracy": g.max_side_accuracy_diff},
        "left and right cannot be compared yet" if dr is None or da is None else
        f"left/right differ by {dr:.2f} s and {da * 100:.0f} accuracy points (at most "
        f"{g.max_side_rt_diff_s:g} s and {g.max_side_accuracy_diff * 100:.0f} points)")
    return out


def _gate_laterality(program: Program, sessions: list[dict[str, Any]], today: date,
                     norms: NormsSettings | None = None) -> dict[str, Criterion]:
    """The norms on the probes pooled over the last ``stable_days`` days, and the run of
    days (newest back) whose probes are consistent with them (vrgmi.laterality.gating)."""
    norms = norms or NormsSettings()
    g = program.laterality.resolved(norms)
    probes = [s for s in sessions if s.get("laterality")]
    if not probes:
        latest = _laterality_ok(None, g)
        stable = Criterion(False, 0, g.stable_days, "no laterality probe yet")
    else:
        last = _date(probes[-1]["date"])
        latest = _laterality_ok(pool(s for s in probes
                                     if (last - _date(s["date"])).days < g.stable_days), g)
        days: dict[date, list[dict[str, Any]]] = {}
        for s in probes:
            days.setdefault(_date(s["date"]), []).append(s)
        streak_start = None
        for day in sorted(days, reverse=True):     # newest first, while the days hold
            if not day_holds(pool(days[day]), g.min_accuracy, g.rt_norm_s + g.rt_tolerance_s,
                             norms.day_confidence):
                break
            streak_start = day
        held = 0 if streak_start is None else (last - streak_start).days + 1
        stable = Criterion(held >= g.stable_days, held, g.stable_days,
                           f"the probes held the norms for {held} of at least "
                           f"{g.stable_days} days")
    return {**latest, "stable": stable,
            "phase_length": _phase_days(program, today, g.min_phase_days)}


def _gate_imagery(program: Program, sessions: list[dict[str, Any]],
                  today: date) -> dict[str, Criterion]:
    g = program.imagery
    n = len(sessions)
    out = {"sessions": Criterion(n >= g.min_sessions, n, g.min_sessions,
                                 f"{n} of at least {g.min_sessions} imagery sessions")}
    recent = [s for s in sessions
              if (today - _date(s["date"])).days < g.window_days
              and (s.get("imagery") or {}).get("ratio") is not None]
    weights = [max(1, int((s["imagery"].get("trials") or 1))) for s in recent]
    ratio = (sum(s["imagery"]["ratio"] * w for s, w in zip(recent, weights)) / sum(weights)
             if recent else None)
    out["chronometry"] = Criterion(
        ratio is not None and g.ratio_lo <= ratio <= g.ratio_hi,
        None if ratio is None else round(ratio, 4), [g.ratio_lo, g.ratio_hi],
        f"no chronometry in the last {g.window_days} days" if ratio is None else
        f"imagined/executed time ratio {ratio:.2f} over the last {g.window_days} days "
        f"(within {g.ratio_lo:g}-{g.ratio_hi:g} needed)")
    kviq = next((s["imagery"]["kviq_mean"] for s in reversed(sessions)
                 if (s.get("imagery") or {}).get("kviq_mean") is not None), None)
    out["kviq"] = Criterion(kviq is not None and kviq >= g.min_kviq_mean,
                            None if kviq is None else round(kviq, 4), g.min_kviq_mean,
                            "no KVIQ yet" if kviq is None else
                            f"KVIQ mean {kviq:.1f} (at least {g.min_kviq_mean:g} needed)")
    out["phase_length"] = _phase_days(program, today, g.min_phase_days)
    return out


def _flare_hold(history: Sequence[dict[str, Any]], today: date, days: int) -> Criterion | None:
    """None when the patient never had a pain flare; else not met while the latest flare
    (any session, any phase, however it ended) is less than ``days`` days old: a flare
    holds the phase."""
    flares = [_date(s["date"]) for s in history
              if s.get("pain_flare") and s.get("date") is not None]
    last = max(flares, default=None)
    if last is None:
        return None
    if (today - last).days >= days:
        return Criterion(True, last.isoformat(), days,
                         f"no pain flare in the last {days} days")
    until = last.toordinal() + days
    return Criterion(False, last.isoformat(), days,
                     f"a pain flare on {last.isoformat()} holds the phase until "
                     f"{date.fromordinal(until).isoformat()}")


def gate(program: Program, history: Sequence[dict[str, Any]],
         today: date | None = None,
         flare_hold_days: int = SafetySettings.flare_hold_days,
         norms: NormsSettings | None = None) -> GateDecision:
    """Decide whether ``program`` may advance from its current phase.

    ``history`` is the patient's per-session summaries (any order, any phase; only the
    current phase's sessions since ``phase_started`` count, never an :data:`INTERRUPTED`
    one (its probe, trials and day neither meet nor break a criterion), but a pain flare in any
    session less than ``flare_hold_days`` old holds the phase: criterion
    ``no_pain_flare``, there once the patient has had a flare). ``today`` defaults to the
    latest session's date (or the real date without sessions). ``norms``: the ``[norms]``
    settings the laterality gate judges the probes against (default: their defaults).
    """
    phase = program.phase
    sessions = sorted((s for s in history if s.get("phase") == phase
                       and s.get("reason") != INTERRUPTED
                       and _date(s.get("date")) >= program.phase_started),
                      key=lambda s: _date(s["date"]))
    if today is None:
        today = _date(sessions[-1]["date"]) if sessions else date.today()
    nxt = _next_phase(phase)
    if nxt is None:
        return GateDecision(phase, False, None, {},
                            ["mirror therapy is the last phase: continue it and watch pain"])
    criteria = (_gate_laterality(program, sessions, today, norms) if phase == "laterality"
                else _gate_imagery(program, sessions, today))
    hold = _flare_hold(history, today, flare_hold_days)
    if hold is not None:
        criteria["no_pain_flare"] = hold
    advance = all(c.met for c in criteria.values())
    reasons = ([f"all {phase} criteria met: ready for {nxt}"] if advance
               else [c.reason for c in criteria.values() if not c.met])
    return GateDecision(phase, advance, nxt, criteria, reasons)


def advance_phase(program: Program, today: date | None = None) -> Program:
    """A copy of ``program`` in the next phase, started ``today``."""
    nxt = _next_phase(program.phase)
    if nxt is None:
        raise ProgramError(f"program: {program.phase} is the last phase")
    return dataclasses.replace(program, phase=nxt, phase_started=today or date.today(),
                               overrides=list(program.overrides))


def record_decision(decision: GateDecision, events: EventBus, t: float = 0.0) -> None:
    """Emit ``decision`` as a ``gate_decision`` event."""
    events.emit("gate_decision", t, decision.as_dict())


def override(program: Program, advance: bool, by: str, reason: str, events: EventBus,
             t: float = 0.0, decision: GateDecision | None = None,
             today: date | None = None) -> Program:
    """A therapist's decision over the gate: record it (event and ``program.overrides``) and
    return the program, moved to the next phase when ``advance`` is True."""
    if not isinstance(by, str) or not by.strip():
        raise ProgramError("program: an override needs who made it")
    if not isinstance(reason, str) or not reason.strip():
        raise ProgramError("program: an override needs a reason")
    today = today or date.today()
    data = (decision.as_dict() if decision is not None
            else {"phase": program.phase, "criteria": {}, "reasons": []})
    data.update(advance=bool(advance), override=True, by=by, reason=reason,
                next_phase=_next_phase(program.phase) if advance else None,
                date=today.isoformat())
    events.emit("gate_decision", t, data)
    record = {"date": today.isoformat(), "phase": program.phase, "advance": bool(advance),
              "by": by, "reason": reason}
    updated = advance_phase(program, today) if advance else dataclasses.replace(
        program, overrides=list(program.overrides))
    updated.overrides.append(record)
    return updated


def step_back(program: Program, by: str, reason: str, events: EventBus, t: float = 0.0,
              today: date | None = None) -> Program:
    """A copy of ``program`` one phase back, started ``today``: recorded as a
    ``phase_step_back`` event and in ``program.overrides`` (who, why, from and to). A
    one-line :class:`ProgramError` in the first phase or without who and why."""
    if not isinstance(by, str) or not by.strip():
        raise ProgramError("program: a step back needs who made it")
    if not isinstance(reason, str) or not reason.strip():
        raise ProgramError("program: a step back needs a reason")
    i = PHASES.index(program.phase)
    if i == 0:
        raise ProgramError(f"program: {program.phase} is the first phase; there is no "
                           "phase to step back to")
    today = today or date.today()
    record = {"date": today.isoformat(), "phase": program.phase, "advance": False,
              "step_back": True, "to": PHASES[i - 1], "by": by, "reason": reason}
    events.emit("phase_step_back", t, dict(record))
    updated = dataclasses.replace(program, phase=PHASES[i - 1], phase_started=today,
                                  overrides=list(program.overrides))
    updated.overrides.append(record)
    return updated


# --- files --------------------------------------------------------------------------------

_GATES = {"laterality": LateralityGate, "imagery": ImageryGate}
_PLANS = {"shaping": ShapingPlan, "study": StudyPlan}


def program_from_dict(data: dict[str, Any], where: str = "program") -> Program:
    """Build a :class:`Program` from a parsed TOML/JSON table; one-line errors."""
    if not isinstance(data, dict):
        raise ProgramError(f"{where}: must be a table of program settings")
    _check_keys(Program, data, where)
    kw = dict(data)
    if "phase_started" in kw:
        try:
            kw["phase_started"] = _date(kw["phase_started"])
        except ProgramError:
            raise ProgramError(f"{where}: phase_started = {data['phase_started']!r} is not "
                               "YYYY-MM-DD") from None
    for name, cls in _GATES.items():
        if name in kw:
            kw[name] = _build(cls, kw[name], f"{where}: {name}")
    for name, cls in _PLANS.items():
        if kw.get(name) is not None:
            kw[name] = _build(cls, kw[name], f"{where}: {name}")
    if "steps" in kw:
        steps = kw["steps"]
        if not isinstance(steps, dict):
            raise ProgramError(f"{where}: steps must be a table of phase = [blocks]")
        for ph, lst in steps.items():
            if not isinstance(lst, list):
                raise ProgramError(f"{where}: steps.{ph} must be a list of blocks")
        kw["steps"] = {ph: [_build(SceneStep, s, f"{where}: steps.{ph}") for s in lst]
                       for ph, lst in steps.items()}
    if "overrides" in kw and not isinstance(kw["overrides"], list):
        raise ProgramError(f"{where}: overrides must be a list")
    if "patient" not in kw:
        raise ProgramError(f"{where}: patient (a pseudonymous id) is required")
    return _construct(Program, kw, where)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ProgramError(f"{where} must be a table")
    _check_keys(cls, data, where)
    return _construct(cls, data, where)


def _check_keys(cls: type, data: dict[str, Any], where: str) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        shown = (k if k.isprintable() and len(k) <= 40 else repr(k)[:40] for k in sorted(unknown))
        raise ProgramError(f"{where}: unknown key(s) {', '.join(shown)} "
                           f"(keys: {', '.join(sorted(known))})")


def _construct(cls: type, kw: dict[str, Any], where: str) -> Any:
    try:
        return cls(**kw)
    except TypeError as exc:
        raise ProgramError(f"{where}: {exc}") from None


def load_program(path: str | Path) -> Program:
    """Read a program from TOML (``.toml``) or JSON (anything else); one-line errors."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProgramError(f"program: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ProgramError(f"program: {path} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except RecursionError:
        raise ProgramError(f"program: {path} is nested too deeply") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ProgramError(f"program: {path} is not valid "
                           f"{'TOML' if path.suffix == '.toml' else 'JSON'}: "
                           f"{str(exc).splitlines()[0]}") from None
    return program_from_dict(data, f"program {path.name}")


def save_program(program: Program, path: str | Path) -> Path:
    """Write ``program`` as JSON (atomically: a crash never leaves half a file)."""
    path = Path(path)
    if path.suffix == ".toml":
        raise ProgramError(f"program: save as .json ({path.name}); TOML is read-only here")
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(program.as_dict(), indent=2), encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise ProgramError(f"program: cannot write {path}: {exc.strerror}") from None
    return path
