"""A session's phantom: its shape (and schedule) and its study condition (no Panda3D).

:class:`PhantomSetup` is the :class:`vrgmi.session.SessionRunner`'s hook: at the session's
start it gives the core the shape of the program's :class:`~vrgmi.shaping.ShapingPlan` at
its current step and the condition the :class:`~vrgmi.study.allocation.StudyPlan`
allocates to this session; each frame it keeps the phantom rig in step (shown or not,
forearm / shank length); it applies the therapist's ``shape_phantom`` and
``capture_posture`` commands; at the end it gates the shaping schedule. Every change is an
event (``phantom_shaped``, ``study_condition`` with the code only, ``shaping_decision``)
and the program (with the allocation) is saved. docs/phantom-shaping.md,
docs/study-conditions.md.
"""
from __future__ import annotations

import dataclasses
from datetime import date
from pathlib import Path
from typing import Any

from vrgmi.body.shaping import CAPTURED
from vrgmi.errors import VrgmiError
from vrgmi.shaping import ShapingPlan, after_session
from vrgmi.study.allocation import allocate
from vrgmi.study.conditions import MotionRecording, record_motion

#: commands this hook applies
PHANTOM_COMMANDS = ("shape_phantom", "capture_posture")


def replay_motion(settings: Any) -> MotionRecording:
    """The motion the replay condition plays: ``study.replay_motion``, a scripted motion
    (the limb's own when the named one is for the other limb) or a replay file, run
    through a core of its own and kept in the body frame."""
    from vrgmi.body.levels import get_level
    from vrgmi.core import CorePipeline
    from vrgmi.tracking.frame import SIDES
    from vrgmi.tracking.replay import ReplaySource, load_replay
    from vrgmi.tracking.scripted import LEG_MOTIONS, MOTIONS, ScriptedSource

    p, name = settings.patient, settings.study.replay_motion
    rate = settings.display.refresh_hz
    leg = get_level(p.amputation_level).limb == "leg"
    if name in MOTIONS or not name:
        if leg != (name in LEG_MOTIONS):
            name = "ankle_circles" if leg else "figure_eight"
        source = ScriptedSource(name, intact_side=SIDES[1 - SIDES.index(p.amputation_side)],
                                rate_hz=rate, height_m=p.height_m)
        seconds = MOTIONS[name]
    else:
        replay = load_replay(Path(name))
        source = ReplaySource(replay, time_origin=0.0)
        seconds = float(replay.t[-1] - replay.t[0])
    return record_motion(CorePipeline(settings, source), seconds, rate)


class PhantomSetup:
    """The shape and condition of one session's phantom (see the module docstring)."""

    def __init__(self) -> None:
        self.code = ""                         # the condition's code ("" outside a study)
        self._allocation: dict[str, Any] | None = None
        self._motion: MotionRecording | None = None
        self._core: Any = None

    # -- session start ---------------------------------------------------------------------
    def start(self, runner: Any, t: float) -> None:
        """Shape the phantom from the program's plan and allocate the study condition; a
        program without them gets the plain mirror (an engine may run many sessions). A
        shape or condition that cannot start is one line for the therapist (naming the
        code, never the condition) and the session runs on."""
        program, core = runner.program, runner.engine.core
        plan = program.shaping
        core.condition.set("mirror")
        try:
            if plan is not None:
                shape = plan.shape(runner.engine.settings.shaping)
                self._shape(runner, t, "schedule", {**shape, "step": plan.step},
                            captured=plan.captured or None)
            elif core.shaper.active:
                core.shaper.set(weight=0.0, telescoping=0.0)
        except VrgmiError as exc:
            runner._alert(t, "phantom", f"the phantom's shape was not applied: {exc}")
        if program.study is not None:
            settings = runner.engine.settings
            study = dataclasses.replace(program.study,
                                        allocations=list(program.study.allocations))
            entry = allocate(study, program.patient, runner.session,
                             settings.study.code_length)
            runner.program = dataclasses.replace(program, study=study)
            self._allocation = {**entry, "delay_s": study.delay_s or settings.study.delay_s}
            self.code = entry["code"]
            try:
                self._condition(runner.engine)
            except VrgmiError as exc:
                core.condition.set("mirror")
                runner._alert(t, "study", f"study condition {self.code} could not start "
                              f"({type(exc).__name__}); this session shows the mirror")
            runner.events.emit("study_condition", t, {"code": self.code,
                                                      "index": entry["index"]})
            runner._program_changed()
        self._core = runner.engine.core

    def _condition(self, engine: Any) -> None:
        a, s = self._allocation, engine.settings.study
        if a is None:
            return
        if a["condition"] == "replay" and self._motion is None:
            self._motion = replay_motion(engine.settings)
        engine.core.condition.set(a["condition"], a["delay_s"], s.max_delay_s,
                                  engine.settings.display.refresh_hz, self._motion)

    # -- every frame -----------------------------------------------------------------------
    def sync(self, engine: Any) -> None:
        """Before the engine's frame: a core rebuilt for a new patient gets the shape and
        condition again; the phantom rig is shown or not, its forearm / shank as long as
        the shape says."""
        core = engine.core
        if self._core is not None and core is not self._core:
            old = self._core.shaper
            try:
                core.shaper.set(old.posture, old.telescoping if core.shaper.layout.level
                                .stump_segment in (0, 1) else 0.0, old.weight,
                                captured=old.target if old.posture == CAPTURED else None)
            except ValueError:        # a shape of the other limb (ShapeError is one too)
                core.shaper.set("open" if core.limb == "arm" else "neutral", 0.0, 0.0)
            self._condition(engine)
            self._core = core
        rig = getattr(engine, "phantom_rig", None)
        if rig is not None:
            rig.shown = core.condition.shown
            rig.segment_scale = core.shaper.segment_scale

    # -- commands --------------------------------------------------------------------------
    def command(self, runner: Any, command: Any, t: float) -> None:
        """Apply ``shape_phantom`` (posture, telescoping, weight, reason) or
        ``capture_posture``; a refused value is the runner's one-line message."""
        args = command.args
        try:
            if command.name == "capture_posture":
                angles = runner.engine.core.shaper.capture(runner.engine.core.intact)
                self._remember(runner, t, {"captured": [round(float(a), 5) for a in angles]})
                weight = runner.engine.core.shaper.weight or 1.0     # shown at once
                self._shape(runner, t, command.by, {"posture": CAPTURED, "weight": weight},
                            record=False)
                runner.message = "posture captured from the intact limb"
                return
            changes = {k: args[k] for k in ("posture", "telescoping", "weight") if k in args}
            self._shape(runner, t, command.by, {**changes, "reason": args.get("reason", "")})
        except VrgmiError as exc:
            runner.message = str(exc)

    def _shape(self, runner: Any, t: float, by: str, values: dict[str, Any],
               captured: Any = None, record: bool = True) -> None:
        shaper = runner.engine.core.shaper
        old = shaper.as_dict()
        shaper.set(values.get("posture"), values.get("telescoping"), values.get("weight"),
                   captured=captured)
        new = shaper.as_dict()
        data = {"old": old, "new": new, "by": by}
        data.update({k: values[k] for k in ("step", "reason") if values.get(k) is not None})
        runner.events.emit("phantom_shaped", t, data)
        runner.message = (f"phantom: {new['posture']}, weight {new['weight']:g}, "
                          f"telescoping {new['telescoping']:g}")
        if record and by != "schedule":
            self._remember(runner, t, {k: new[k] for k in ("posture", "telescoping")
                                       if k in values} | {"weight": new["weight"]}, by)

    def _remember(self, runner: Any, t: float, values: dict[str, Any],
                  by: str = "therapist") -> None:
        """A therapist's shape becomes the plan's felt shape (the schedule restarts from
        it); recorded in the plan's history and saved."""
        program = runner.program
        plan = program.shaping or ShapingPlan(posture=runner.engine.core.shaper.posture)
        plan = dataclasses.replace(plan, history=list(plan.history), sessions=[])
        if "captured" in values:
            plan.captured = list(values["captured"])
            plan.posture = CAPTURED
        if "posture" in values:
            plan.posture = values["posture"]
        if "telescoping" in values:
            plan.telescoping = values["telescoping"]
        plan.step = 0
        plan.history.append({"date": date.today().isoformat(), "by": by, "session":
                             runner.session, **{k: v for k, v in values.items()
                                                if k != "captured"}})
        runner.program = dataclasses.replace(program, shaping=plan)
        runner._program_changed()

    # -- session end -----------------------------------------------------------------------
    def finish(self, runner: Any, t: float, data: dict[str, Any]) -> None:
        """Gate the shaping schedule with this session's outcome (``session_finished``
        data); a ``shaping_decision`` event, and the program saved."""
        plan = runner.program.shaping
        if plan is None:
            return
        plan = dataclasses.replace(plan, sessions=list(plan.sessions),
                                   history=list(plan.history))
        outcome = {"session": runner.session, "date": date.today().isoformat(),
                   "reason": data.get("reason"), "nrs_pre": data.get("nrs_pre"),
                   "nrs_post": data.get("nrs_post"),
                   "pain_flare": bool(data.get("pain_flare"))}
        decision = after_session(plan, outcome, runner.engine.settings.shaping,
                                 runner.safety.flare_hold_days)
        runner.program = dataclasses.replace(runner.program, shaping=plan)
        runner.events.emit("shaping_decision", t, decision)
        runner._program_changed()

    def status(self, core: Any) -> dict[str, Any]:
        """What the companion shows: the shape and the condition's code (never its name)."""
        return {**core.shaper.as_dict(), "study_code": self.code}
