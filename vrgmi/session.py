"""One GMI session on an :class:`~vrgmi.app.Engine`: questionnaires, the phase's scenes, breaks.

The :class:`SessionRunner` plays, in order: the pre-session pain NRS and the SSQ baseline
(``safety.ssq_baseline``), the current phase's blocks from the
:class:`~vrgmi.program.Program` (each for its minutes or until the scene says it is finished,
fitted within the session's minutes, ``safety.session_max_min`` at most; a guided-breathing
break is offered between blocks and whenever the break reminder is due), then the
post-session NRS and the SSQ. The safety rules around it (docs/program.md): the patient's
stop (menu hold or stop key, :mod:`vrgmi.patient_controls`), the headset off for longer than
``safety.headset_off_end_s``, the therapist's pain check, the pain-flare rule on any end,
the dose warning and limit, and SSQ alerts; each alert goes to the status (``alerts``) and
to the events. It applies therapist
:class:`~vrgmi.control.Command`s at frame boundaries and publishes an
:class:`~vrgmi.control.EngineStatus` every frame. Every event goes to the session's
:class:`~vrgmi.events.EventBus`, written to ``events-<session>.jsonl`` in the output folder.

Every session has a seed (:mod:`vrgmi.seeding`): drawn fresh at the start unless the
``session.seed`` setting (``--seed``) fixes it, recorded in ``session_started``; each block's
scene gets its own child seed, so blocks and sessions differ and a seed replays a session.

A scene that raises (setup, update or teardown) ends with ``scene_finished`` reason
``error`` and one log line; the session goes on. This module does not import Panda3D: it
drives the engine it is given and finds scenes by name (:func:`resolve_scene`).
"""
from __future__ import annotations

import json
import logging
import statistics
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vrgmi.atomic import AtomicWriteError, write_text
from vrgmi.body import get_level
from vrgmi.control import Command, CommandQueue, EngineStatus, StatusBoard
from vrgmi.embodiment_plan import MEASURE_PARTS, MEASURE_PRE, with_measures
from vrgmi.errors import VrgmiError
from vrgmi.events import Event, EventBus, EventSink, JsonlEventLog
from vrgmi.i18n import _
from vrgmi.measures.questionnaires import pain_flare, ssq_alerts
from vrgmi.outcomes.visit import RATING_SCENE, FollowUp
from vrgmi.patient_controls import PatientControls
from vrgmi.phantom_setup import PHANTOM_COMMANDS, PhantomSetup
from vrgmi.program import Program, override, step_back
from vrgmi.progress import after_scene, after_session, carried_params
from vrgmi.research.link import LslLink, research_status
from vrgmi.scenes import SceneLoadError, load_scene
from vrgmi.scenes.base import ParamValue, Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import SceneParamError
from vrgmi.settings import SafetySettings
from vrgmi.seeding import block_seed, draw_session_seed

if TYPE_CHECKING:                     # the engine imports Panda3D; this module does not
    from vrgmi.app import Calibration, Engine

log = logging.getLogger("vrgmi.session")

#: a breathing break offered between blocks lasts this long once accepted
BREAK_MINUTES = 1.0
#: frames between frame-time percentile updates in the status (a percentile sorts 4096 values)
STATUS_TIMING_EVERY = 45
RECENT_TRIALS = 5
#: session ends that show the calm view at once (no questionnaire follows)
CALM_ENDS = ("emergency_stop", "patient_stop", "headset_removed")
#: seconds a dose warning stays in the headset
NOTICE_S = 6.0
#: a main block with less than this many seconds of the session's time left is skipped
MIN_BLOCK_S = 1.0


class SessionError(VrgmiError):
    """A session cannot start or go on (one line)."""


def resolve_scene(name: str, registry: Mapping[str, type[Scene]] | None = None) -> type[Scene]:
    """The scene class called ``name``: from ``registry`` when given, else its ``vrgmi.scenes``
    entry point (only that one is loaded, so a broken unrelated plug-in cannot stop a
    session). One-line :class:`SessionError` when it is missing or broken."""
    if registry is not None and name in registry:
        return registry[name]
    try:
        return load_scene(name)
    except SceneLoadError as exc:
        raise SessionError(f"session: {exc}") from None


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


class GuardedScene(Scene):
    """Runs one scene for the runner; an exception inside it ends the scene with reason
    ``error`` (event and one log line) instead of ending the session."""

    phase = "rest"

    def __init__(self, inner: Scene) -> None:
        super().__init__()
        self.inner = inner
        # the guard wears its inner scene's class attributes (the engine and status read them)
        self.name = inner.name          # type: ignore[misc]
        self.phase = inner.phase        # type: ignore[misc]
        self.params = inner.params      # type: ignore[misc]
        #: the parameters' descriptions for the status (fixed per scene class)
        self.schema = [q.describe() for q in inner.params]
        self.error: str | None = None

    def setup(self, ctx: SceneContext) -> None:
        """Set the inner scene up (its own ``scene_started`` event)."""
        self.ctx = ctx
        self.set_time(self.inner.now)
        try:
            self.inner.setup(ctx)
        except Exception as exc:
            self._fail("setup", exc)

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Forward the frame; an exception ends the scene."""
        if self.error is None:
            try:
                self.inner.step(frame, dt)
            except Exception as exc:
                self._fail("update", exc)
        self.finished = self.error is not None or bool(self.inner.finished)

    def teardown(self) -> None:
        """Tear the inner scene down (its ``scene_finished`` event)."""
        if self.error is None and self.ctx is not None:
            try:
                self.inner.teardown()
            except Exception as exc:
                self._fail("teardown", exc)
        self.ctx = None

    def set_time(self, t: float) -> None:
        """Set the guard's and the inner scene's :attr:`now` (the events of either)."""
        super().set_time(t)
        self.inner.set_time(t)

    def set_param(self, name: str, value: ParamValue, by: str = "therapist") -> None:
        """The inner scene's :meth:`Scene.set_param` (bounds checked there)."""
        self.inner.set_param(name, value, by)

    def end_skipped(self, why: str) -> None:
        """Tear the scene down, its ``scene_finished`` saying reason ``skipped`` and ``why``
        (in the summary, beside the scene's own figures)."""
        ctx = self.ctx
        if ctx is None or self.error is not None:
            self.teardown()
            return
        bus = ctx.events
        ctx.events = _Skipping(bus, why)
        try:
            self.teardown()
        finally:
            ctx.events = bus

    def _fail(self, where: str, exc: Exception) -> None:
        self.error = f"scene {self.name!r} failed in {where}: {_one_line(exc)}"
        log.warning("vrgmi: %s; the session goes on", self.error)
        ctx = self.ctx
        if ctx is not None:
            ctx.events.emit("scene_finished", self._t,
                            {"summary": {"error": self.error}, "reason": "error"}, self.name)
            if ctx.root is not None:
                ctx.root.remove_node()
        self.inner.ctx = None
        self.finished = True


class _Skipping(EventBus):
    """In front of the session's event bus while a scene ends as skipped (its history is
    the bus's)."""

    def __init__(self, bus: EventBus, why: str) -> None:
        super().__init__(bus.session)
        self.history = bus.history
        self.bus, self.why = bus, why

    def emit(self, kind: str, t: float, data: dict[str, Any], scene: str = "") -> Event:
        """Forward the event; a ``scene_finished`` becomes reason ``skipped``."""
        if kind == "scene_finished":
            data = dict(data, reason="skipped",
                        summary={**(data.get("summary") or {}), "skipped": self.why})
        return self.bus.emit(kind, t, data, scene)


@dataclass
class Block:
    """One step of the session plan."""

    scene: str
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None          # None: until the scene finishes
    part: str = "main"                    # pre | main | break | post | measure(_pre)
    seed: int | None = None               # the scene's seed, given when it first starts
    skipped: bool = False                 # ended without running (or cut short by a stop)


class _Watcher:
    """An event sink that keeps what the status and the safety checks need: recent trials,
    the latest NRS per moment, and the questionnaires not reviewed yet."""

    def __init__(self) -> None:
        self.trials: deque[dict[str, Any]] = deque(maxlen=RECENT_TRIALS)
        self.nrs: dict[str, int | None] = {}      # None: the rating was skipped
        self.ssq: dict[str, float] = {}
        self.new: list[Event] = []

    def put(self, event: Event) -> None:
        if event.kind == "trial":
            self.trials.append(dict(event.data, scene=event.scene))
        elif event.kind == "questionnaire":
            self.new.append(event)
            data = event.data
            if data.get("instrument") == "nrs":
                self.nrs[str(data.get("moment"))] = (data.get("answers") or [None])[0]
            elif data.get("instrument") == "ssq":
                total = _number((data.get("scores") or {}).get("total"))
                if total is not None:
                    self.ssq[str(data.get("moment"))] = total

    def in_session_nrs(self) -> int | None:
        """The latest rating after the pre NRS: post, else the latest pain check."""
        return self.nrs.get("post", self.nrs.get("check"))

    def close(self) -> None:
        pass


class SessionRunner:
    """Drives one session of ``program`` on ``engine`` (see the module docstring).

    Use: the frame loop (:func:`vrgmi.frame_loop.run_frames`, a
    :class:`~vrgmi.frame_loop.FrameTarget`) calls :meth:`step` once per frame until it
    returns False (the first step starts the session), then ``runner.close()`` (writes
    ``summary-<session>.json``). The engine's ``events`` is
    replaced by the session's bus. ``registry`` maps scene names to classes (default: the
    installed scenes, :func:`resolve_scene`). ``program`` may change during the session
    (a ``gate_override`` command); save :attr:`program` afterwards. ``max_block_s`` caps
    every timed block (quick demos and tests). ``sinks`` (the records database's
    :class:`~vrgmi.records.store.RecordSink`) receive every event besides the JSONL log.
    ``on_program_change(program)`` is called (on the frame thread) whenever a command
    changed :attr:`program`, e.g. with :func:`vrgmi.records.programs.save_program`, so a
    therapist's gate override (or step back) is kept even if the session never closes.
    The safety rules read ``engine.settings.safety``. ``follow_up`` makes it a follow-up
    visit (:mod:`vrgmi.outcomes.visit`): the visit's ratings, then at most one laterality
    block; no questionnaires around them, no training, every carried level held.
    """

    def __init__(self, engine: Engine, program: Program, out_dir: str | Path,
                 commands: CommandQueue | None = None, board: StatusBoard | None = None,
                 registry: Mapping[str, type[Scene]] | None = None,
                 session_id: str | None = None, max_block_s: float | None = None,
                 sinks: Iterable[EventSink] = (),
                 on_program_change: Callable[[Program], None] | None = None,
                 seed: int | None = None, follow_up: FollowUp | None = None) -> None:
        self.engine = engine
        #: the visit this session asks (None: a training session)
        self.follow_up = follow_up
        #: the session's seed: ``seed``, else the ``session.seed`` setting, else a fresh one
        self.seed = seed or engine.settings.session.seed or draw_session_seed()
        self._scenes_started = 0
        self.on_program_change = on_program_change
        self._calibration: dict[str, Any] | None = None
        self.max_block_s = max_block_s
        self.program = program
        self._progress_started: dict[str, Any] = dict(program.progress)
        self.commands = commands or CommandQueue()
        self.board = board or StatusBoard()
        self.registry = registry
        self.session = session_id or uuid.uuid4().hex[:8]
        self.out_dir = Path(out_dir)
        self.log_path = self.out_dir / f"events-{self.session}.jsonl"
        self._watch = _Watcher()
        #: the session's LSL markers, limbs and phantom drive (``[lsl]``; None: off)
        self.lsl = LslLink.open(engine)
        lsl_sinks = [self.lsl.markers] if self.lsl is not None and self.lsl.markers else []
        self.events = EventBus(self.session,
                               [JsonlEventLog(self.log_path), self._watch, *sinks, *lsl_sinks])
        engine.events = self.events
        self.plan: list[Block] = []
        self.index = -1                    # the block running now
        self.scene: GuardedScene | None = None
        self.state = "idle"                # idle | running | paused | finished | emergency_stopped
        self.reason = ""
        self.message = ""
        self.t = 0.0
        self._t0 = 0.0
        self._block_s = 0.0
        self._since_break_s = 0.0
        self._main_s = 0.0
        self._main_since_break = False     # a main block has run since the last break
        self._frames = 0
        self._p99 = 0.0
        self._dropped = 0
        self._flare = False
        self._focus_lost = False
        self._closed = False
        self.safety = engine.settings.safety
        self.controls = PatientControls(self.safety, self.commands)
        #: what the therapist must see now (pain flare, SSQ, dose), newest last
        self.alerts: list[dict[str, Any]] = []
        self.stopped_by = ""               # who ended the session early
        self._session_s = 0.0              # headset-on time since the start (the dose)
        self._main_limit_s = 60.0 * min(program.minutes_per_session,
                                        self.safety.session_max_min)
        self._warned = False
        self._notice_until = -1.0
        self._notice_text = ""
        self._off_since: float | None = None
        self._check: GuardedScene | None = None   # the pain check shown over a waiting block
        #: the phantom's shape and study condition (vrgmi.phantom_setup)
        self.phantom = PhantomSetup()

    # -- plan -----------------------------------------------------------------------------
    def _build_plan(self) -> list[Block]:
        if self.follow_up is not None:
            return self._follow_up_plan(self.follow_up)
        plan = [Block("pain_nrs", {"moment": "pre"}, part="pre")]
        if self.safety.ssq_baseline:
            plan.append(Block("ssq", {"moment": "pre"}, part="pre"))
        main = [Block(step.scene, dict(step.params), self._cap(60.0 * step.minutes))
                for step in self.program.session_steps()]
        plan += with_measures(main, self.engine.settings.embodiment, self._is_mirror, Block)
        plan += [Block("pain_nrs", {"moment": "post"}, part="post"),
                 Block("ssq", {"moment": "post"}, part="post")]
        return plan

    def _follow_up_plan(self, visit: FollowUp) -> list[Block]:
        """A follow-up visit: one rating per item, then the laterality block (if any)."""
        plan = [Block(RATING_SCENE, params, part="pre") for params in visit.rating_params()]
        step = visit.laterality
        if step is not None:
            plan.append(Block(step.scene, dict(step.params), self._cap(60.0 * step.minutes)))
        return plan

    def _is_mirror(self, name: str) -> bool:
        """Whether the scene ``name`` is a mirror block (embodiment measures go around it)."""
        try:
            return resolve_scene(name, self.registry).phase == "mirror"
        except VrgmiError:
            return False

    def _cap(self, seconds: float) -> float:
        return seconds if self.max_block_s is None else min(seconds, self.max_block_s)

    @property
    def done(self) -> bool:
        """True once the session has ended (completed, stopped or emergency-stopped)."""
        return self.state in ("finished", "emergency_stopped")

    @property
    def block_s(self) -> float:
        """Seconds the block running now has run (not while held)."""
        return self._block_s

    @property
    def current(self) -> Block | None:
        """The block running now."""
        return self.plan[self.index] if 0 <= self.index < len(self.plan) else None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, t: float = 0.0) -> None:
        """Emit ``session_started`` and show the first block (the pre-session NRS)."""
        if self.state != "idle":
            return
        p = self.engine.settings.patient
        self.t = self._t0 = t
        if self.lsl is not None:
            self.lsl.observe(t)
        self.plan = self._build_plan()
        self._progress_started = dict(self.program.progress)
        self.state = "running"
        self.events.emit("session_started", t, {
            "patient": self.program.patient, "phase": self.program.phase,
            "program": self.program.as_dict(), "side": p.amputation_side,
            "level": p.amputation_level, "seed": self.seed,
            **(self.follow_up.as_dict() if self.follow_up is not None else {})})
        torso = self.engine.core.torso          # forward is where the patient faces now
        torso.notes.clear()
        torso.request_recenter("session_start")
        self.phantom.start(self, t)
        self._next_block(t)

    def step(self, t: float, dt: float, render: bool = True) -> bool:
        """One frame: apply commands, run the engine frame, advance the plan, publish the
        status. False once the session has ended."""
        if self.lsl is not None:
            self.lsl.observe(t)
        if self.state == "idle":
            self.start(t)
        self.t = t
        if not self.done:
            self.controls.step(self.engine.inputs, t)
        for command in self.commands.drain():
            self._apply(command, t)
            if self.lsl is not None:
                self.lsl.command(command.name, command.by, command.args, t)
        self._note_focus(t)
        self.phantom.sync(self.engine)
        try:
            self.engine.frame(t, dt, render)
        except Exception as exc:      # the engine itself failed: keep every event written
            self._finish(t, "error")
            self.close()
            raise SessionError(f"session: the engine failed: {_one_line(exc)}") from None
        if self.lsl is not None:
            self.lsl.after_frame(t)
        self._frames += 1
        if not self.done and not self.engine.focus_lost:
            self._session_s += dt
        self._review(t)
        if self.state == "running" and not self.engine.focus_lost:
            if self._check is not None:            # the block waits for the pain check
                if self._check.finished:
                    self._end_check()
            else:
                self._block_s += dt
                if self.current is not None and self.current.part == "main":
                    self._main_s += dt
                if self.current is not None and self.current.part != "break":
                    self._since_break_s += dt
                self._check_block(t)
            self._check_dose(t)
        self._show_notice(t)
        self._record_body_frame(t)
        self._publish(t)
        return not self.done

    def _record_body_frame(self, t: float) -> None:
        """Record what happened to the body frame (recenters, turns); a suspected turn is
        also said on the console, for the therapist to confirm with a recenter."""
        notes = self.engine.core.torso.notes
        while notes:
            kind, data = notes.popleft()
            self.events.emit(kind, t, data)
            if kind == "body_turn_suspected":
                log.warning("vrgmi: the patient may have turned (about %+.0f deg, %s): "
                            "Recenter?", data["angle_deg"], data["evidence"])

    def _note_focus(self, t: float) -> None:
        """Record the headset losing and regaining focus (the runtime's menu, the headset
        taken off) as a pause of its own; block clocks stand still meanwhile."""
        lost = bool(getattr(self.engine, "focus_lost", False))
        if lost != self._focus_lost and self.state in ("running", "paused"):
            self.events.emit("session_paused" if lost else "session_resumed", t,
                             {"reason": "headset focus lost"} if lost else {})
        self._focus_lost = lost
        off_since = (self._off_since if self._off_since is not None else t) if lost else None
        self._off_since = off_since
        if (off_since is not None and self.state in ("running", "paused")
                and t - off_since >= self.safety.headset_off_end_s):
            self.message = (f"the headset was off for {self.safety.headset_off_end_s:g} s: "
                            "the session ended")
            self._calm_end(t, "headset_removed", "system")

    def close(self) -> dict[str, Any]:
        """End the session if it still runs, close the event log, write and return the
        summary (``summary-<session>.json``)."""
        if not self._closed:
            if not self.done and self.state != "idle":
                self._end_scene(self.t, completed=False)
                self._finish(self.t, "stopped")
            self._closed = True
            self.events.close()
            if self.lsl is not None:
                self.lsl.close()
        summary = session_summary(self.events.history, self.safety.flare_rise)
        path = self.out_dir / f"summary-{self.session}.json"
        try:
            write_text(path, json.dumps(summary, indent=2))
        except AtomicWriteError as exc:
            log.warning("vrgmi: %s", exc)
        return summary

    # -- blocks ---------------------------------------------------------------------------
    def _check_block(self, t: float) -> None:
        block, scene = self.current, self.scene
        if block is None or scene is None:
            return
        timed_out = block.seconds is not None and self._block_s >= block.seconds
        if scene.finished or timed_out:
            if timed_out and scene.error is None:
                scene.inner.finished = True      # it ran its planned time: completed
            self._next_block(t)

    def _next_block(self, t: float, offer_break: bool = True) -> None:
        """End the current scene and start the next runnable block (or finish); a break is
        offered before a main block when one is due (not after a therapist's switch)."""
        self._end_scene(t, completed=True)
        while True:
            self.index += 1
            block = self.current
            if block is None:
                self._finish(t, self.reason or "completed")
                return
            if block.part == "main":
                left = self._main_limit_s - self._main_s
                if left < MIN_BLOCK_S:
                    self._skip(block, t, "the session's minutes are used up")
                    continue
                block.seconds = left if block.seconds is None else min(block.seconds, left)
            if block.part in MEASURE_PARTS and self._orphaned(block):
                self._skip(block, t, "its mirror block does not run (the session's minutes "
                                     "are used up)")
                continue
            if block.part in ("main", MEASURE_PRE) and offer_break and self._break_due():
                self.plan.insert(self.index, Block("breathing", {
                    "ask_first": True, "minutes": BREAK_MINUTES},
                    self._cap(60.0 * BREAK_MINUTES), part="break"))
                block = self.plan[self.index]
            if self._start_scene(block, t):
                return

    def _break_due(self) -> bool:
        before = self.plan[:self.index]
        if before and before[-1].part == MEASURE_PRE:
            return False                 # a block right after its own pre-block measure
        # the measures after a block belong to it: look past them
        prev = next((b for b in reversed(before) if b.part not in MEASURE_PARTS), None)
        if prev is None or prev.part != "main" or not self._main_since_break:
            return False
        return (self.program.breathing_between_blocks
                or self._since_break_s >= 60.0 * self.program.break_reminder_min)

    def _start_scene(self, block: Block, t: float) -> bool:
        try:
            cls = resolve_scene(block.scene, self.registry)
            inner = cls(**{**carried_params(cls, self.program.progress), **block.params})
        except (VrgmiError, TypeError) as exc:
            message = str(exc) if isinstance(exc, VrgmiError) else _one_line(exc)
            log.warning("vrgmi: %s; skipping it", message)
            self.events.emit("scene_finished", t, {"summary": {"error": message},
                                                   "reason": "error"}, block.scene)
            self.message = message
            return False
        limb = self.engine.core.limb
        if limb not in cls.limbs:
            self._skip(block, t, _wrong_limb(block.scene, cls.limbs, limb))
            return False
        inner.set_time(t)
        self.scene = GuardedScene(inner)
        self._block_s = 0.0
        if block.part == "break":
            self._since_break_s = 0.0
            self._main_since_break = False
        if block.seed is None:
            block.seed = block_seed(self.seed, self._scenes_started)
            self._scenes_started += 1
        self.engine.set_scene(self.scene, block.seed)
        if self.scene.error is not None:
            self.message = self.scene.error
            return False
        self._main_since_break |= block.part == "main"
        return True

    def _end_scene(self, t: float, completed: bool) -> None:
        self._end_check()
        scene = self.scene
        if scene is None:
            return
        if not completed and scene.error is None:
            scene.inner.finished = False
        scene.set_time(t)
        scene.teardown()
        self.scene = None
        if scene.error is None:
            self._set_progress(after_scene(self.program.progress, scene.inner.summary()))

    def _orphaned(self, block: Block) -> bool:
        """Whether an embodiment measure's mirror block will not run (a pre-block measure
        with the session's minutes used up) or did not (a post-block measure)."""
        if block.part == MEASURE_PRE:
            return self._main_limit_s - self._main_s < MIN_BLOCK_S
        prev = next((b for b in reversed(self.plan[:self.index])
                     if b.part not in MEASURE_PARTS), None)
        return prev is not None and prev.skipped

    def _skip(self, block: Block, t: float, why: str) -> None:
        block.skipped = True
        self.events.emit("scene_finished", t, {"summary": {"skipped": why},
                                               "reason": "skipped"}, block.scene)

    def _to_post(self, t: float, reason: str = "stopped", by: str = "therapist",
                 post: list[Block] | None = None) -> None:
        """End the current scene and go on with the post-session questionnaires (``post``
        instead of the planned ones when given); the session then ends as ``reason``."""
        self._end_scene(t, completed=False)
        first = next((i for i, b in enumerate(self.plan) if b.part == "post"), len(self.plan))
        self.reason, self.stopped_by = reason, by
        if self.index >= first or self.current is None or self.current.part == "pre":
            self._finish(t, reason)         # in the questionnaires already: end now
            return
        why = {"patient_stop": "stopped by the patient",
               "time_limit": "the session's time limit"}.get(reason, "stopped by the therapist")
        for block in self.plan[self.index + 1:first]:
            self._skip(block, t, why)
        if post is not None:
            for block in self.plan[first:]:
                self._skip(block, t, why)
            self.plan[first:] = post
        self.index = first - 1
        self._next_block(t, offer_break=False)

    def _finish(self, t: float, reason: str) -> None:
        if self.done:
            return
        pre, post = self._watch.nrs.get("pre"), self._watch.nrs.get("post")
        latest = self._watch.in_session_nrs()
        data: dict[str, Any] = {"reason": reason, "minutes": round((t - self._t0) / 60.0, 3),
                                "nrs_pre": pre, "nrs_post": post,
                                "nrs_check": self._watch.nrs.get("check"),
                                "by": self.stopped_by or ("vrgmi" if reason == "completed"
                                                          else "")}
        if pre is not None and latest is not None:
            data["pain_flare"] = pain_flare(pre, latest, self.safety.flare_rise)
            if data["pain_flare"]:
                self._pain_flare(t, pre, latest, "post" if post is not None else "check")
        self._carry_over(t, reason)
        self.phantom.finish(self, t, data)
        self.events.emit("session_finished", t, data)
        self.reason = reason
        self.state = "emergency_stopped" if reason == "emergency_stop" else "finished"
        if self._flare and self.safety.flare_action == "step_back":
            self._flare_step_back(t, pre, latest)
        if reason in CALM_ENDS and reason != "emergency_stop":
            self._show_calm(t)

    # -- progression ----------------------------------------------------------------------
    def _set_progress(self, progress: dict[str, Any]) -> None:
        if progress != self.program.progress:
            self.program = replace(self.program, progress=progress)

    def _carry_over(self, t: float, reason: str) -> None:
        """At the session's end: the mirror level from this session's trials (a pain flare
        or an early end holds every level), a ``progression`` event, and the program kept
        (vrgmi.progress)."""
        hold = ("pain flare in this session" if self._flare else
                f"the session ended early ({reason})" if reason in CALM_ENDS else
                "a follow-up visit (no training)" if self.follow_up is not None else None)
        progress, mirror = after_session(self.program.progress, self._progress_started,
                                         self.events.history, self.program.phase,
                                         self.program.top_mirror_level(), hold)
        self._set_progress(progress)
        self.events.emit("progression", t, {"before": dict(self._progress_started),
                                            "after": dict(self.program.progress),
                                            "mirror": mirror, "held": hold})
        if progress != self._progress_started:
            self._program_changed()

    # -- safety: the patient's stop, pain checks and flares, dose, SSQ -----------------------
    def _calm_end(self, t: float, reason: str, by: str) -> None:
        """End now: the calm view, no questionnaire (the headset is off)."""
        self.engine.world.hide()
        self._end_scene(t, completed=False)
        self.stopped_by = by
        self._finish(t, reason)

    def _show_calm(self, t: float) -> None:
        """The calm, dim view the emergency stop shows; the limbs and scene are hidden."""
        engine = self.engine
        engine.world.hide()
        engine.hide_notice()
        try:
            calm = resolve_scene("calm", self.registry)(text="stopped")
            calm.set_time(t)
            engine.set_scene(calm)
        except Exception as exc:      # the calm view is a nicety; the stop must happen
            log.warning("vrgmi: calm view unavailable: %s", _one_line(exc))
        engine.paused = True

    def _patient_stop(self, t: float, source: str, by: str) -> None:
        """The patient stopped: the world goes, a skippable post NRS (if they are willing),
        then the calm view; the session ends as ``patient_stop``."""
        if self.state not in ("running", "paused"):
            return
        self.state = "running"
        self.engine.paused = False
        self.engine.world.hide()
        self.events.emit("patient_stop", t, {"source": str(source or ""), "by": by,
                                             "scene": self.scene.name if self.scene else ""})
        self.message = "the patient stopped the session"
        self._alert(t, "patient_stop", "the patient stopped the session")
        self._to_post(t, "patient_stop", by, [Block("pain_nrs", {
            "moment": "post", "skippable": True}, part="post")])

    def _pain_check(self, t: float) -> None:
        """Show the pain NRS now over the running block, which waits until it is answered."""
        block = self.current
        if self.state != "running" or block is None or block.part not in ("main", "break") \
                or self._check is not None:
            self.message = "pain_check: only while a block runs"
            return
        try:
            inner = resolve_scene("pain_nrs", self.registry)(moment="check")
        except (VrgmiError, TypeError) as exc:
            self.message = f"pain_check: {exc}"
            return
        waiting, engine = self.scene, self.engine
        if waiting is not None and waiting.ctx is not None and waiting.ctx.root is not None:
            waiting.ctx.root.hide()
        inner.set_time(t)
        self._check = GuardedScene(inner)
        engine.scene = None                      # the block's scene waits, not torn down
        engine.set_scene(self._check)
        self.events.emit("pain_check", t, {"scene": waiting.name if waiting else ""})
        self.message = "pain check: the patient rates their pain"

    def _end_check(self) -> None:
        """Take the pain check away and give the engine back the waiting block's scene."""
        check, self._check = self._check, None
        if check is None:
            return
        engine = self.engine
        check.set_time(self.t)
        check.teardown()
        engine.scene = None
        engine.inputs.clear()
        engine.scene = self.scene
        waiting = self.scene
        if waiting is not None and waiting.ctx is not None and waiting.ctx.root is not None:
            waiting.ctx.root.show()

    def _review(self, t: float) -> None:
        """Check each new questionnaire: a pain check against the flare rule, an SSQ
        against the alert thresholds."""
        watch = self._watch
        new, watch.new = watch.new, []
        for event in new:
            d = event.data
            if d.get("instrument") == "nrs" and d.get("moment") == "check":
                pre, now = watch.nrs.get("pre"), (d.get("answers") or [None])[0]
                if pre is not None and now is not None and pain_flare(
                        pre, now, self.safety.flare_rise):
                    self._pain_flare(t, pre, now, "check")
            elif d.get("instrument") == "ssq" and d.get("answers") is not None:
                self._ssq_review(t, str(d.get("moment")), d["answers"])

    def _pain_flare(self, t: float, pre: int, now: int, moment: str) -> None:
        """A flare: the event (once per session), the therapist's alert, a log line."""
        if self._flare:
            return
        self._flare = True
        text = (f"pain flare: NRS {pre} -> {now} ({moment}) in this session; please check "
                "on the patient")
        self.events.emit("pain_flare", t, {"nrs_pre": pre, "nrs": now, "moment": moment,
                                           "rise": now - pre,
                                           "threshold": self.safety.flare_rise,
                                           "action": self.safety.flare_action})
        self._alert(t, "pain_flare", text)
        log.warning("vrgmi: %s", text)

    def _flare_step_back(self, t: float, pre: int | None, now: int | None) -> None:
        """``safety.flare_action = step_back``: the program goes back one phase."""
        try:
            self.program = step_back(self.program, "vrgmi",
                                     f"pain flare: NRS {pre} -> {now}", self.events, t)
        except VrgmiError as exc:            # laterality has no phase before it
            log.info("vrgmi: no step back after the flare: %s", exc)
            return
        self._program_changed()

    def _ssq_review(self, t: float, moment: str, answers: list[int]) -> None:
        baseline = self._watch.ssq.get("pre") if moment == "post" else None
        try:
            reasons = ssq_alerts(answers, baseline, self.safety.ssq_total_alert,
                                 self.safety.ssq_rise_alert, self.safety.ssq_severe_alert)
        except VrgmiError:
            return
        if not reasons:
            return
        advice = ("consider ending or shortening this session" if moment == "pre" else
                  "consider shorter sessions or more breaks next time")
        self.events.emit("ssq_alert", t, {"moment": moment, "reasons": reasons,
                                          "baseline": baseline, "advice": advice})
        self._alert(t, "ssq", f"SSQ {moment}: {'; '.join(reasons)}: {advice}")

    def _check_dose(self, t: float) -> None:
        """Warn ``safety.dose_warning_min`` before the session's limit; at the hard limit
        (``safety.session_max_min`` in the headset) go to the post questionnaires."""
        block = self.current
        if block is None or block.part not in ("main", "break", *MEASURE_PARTS):
            return
        hard_left = 60.0 * self.safety.session_max_min - self._session_s
        left = min(self._main_limit_s - self._main_s, hard_left)
        warn_s = 60.0 * self.safety.dose_warning_min
        if not self._warned and 0.0 < left <= warn_s < self._main_limit_s:
            self._warned = True
            minutes = max(1, round(left / 60.0))
            self.events.emit("dose_warning", t, {"seconds_left": round(left, 1),
                                                 "limit_min": self._main_limit_s / 60.0})
            self._alert(t, "dose", f"about {minutes} min left before the session's limit")
            self._notice(t, _("About 1 minute left in this session") if minutes == 1 else
                         _("About {minutes} minutes left in this session").format(
                             minutes=minutes))
        if hard_left <= 0.0:
            self.message = (f"the session reached its limit of "
                            f"{self.safety.session_max_min:g} minutes")
            self._to_post(t, "time_limit", "vrgmi")

    def _alert(self, t: float, kind: str, text: str) -> None:
        self.alerts.append({"kind": kind, "text": text, "t": round(t, 3)})
        self.message = text

    def _notice(self, t: float, text: str) -> None:
        self._notice_text, self._notice_until = text, t + NOTICE_S

    def _show_notice(self, t: float) -> None:
        """The menu hold's ring while held, else a timed notice, else nothing."""
        held = self.controls.notice(t) if not self.done else None
        if held is not None:
            self.engine.show_notice(*held)
        elif t < self._notice_until and not self.done:
            self.engine.show_notice(self._notice_text)
        else:
            self.engine.hide_notice()

    def _program_changed(self) -> None:
        """Save the changed program (``on_program_change``); say so when it failed."""
        if self.on_program_change is None:
            return
        try:
            self.on_program_change(self.program)
        except Exception as exc:      # the change stands; say that it was not saved
            why = str(exc) if isinstance(exc, VrgmiError) else _one_line(exc)
            log.warning("vrgmi: the changed program was not saved: %s", why)
            self.message += f"; NOT saved: {why}"

    # -- commands -------------------------------------------------------------------------
    def _apply(self, command: Command, t: float) -> None:
        name, args = command.name, command.args
        if self.done and name != "start":
            self.message = f"{name}: the session has ended"
            return
        if name == "emergency_stop":
            self._emergency(t, command.by)
        elif name == "patient_stop":
            self._patient_stop(t, args.get("source", ""), command.by)
        elif name == "pain_check":
            self._pain_check(t)
        elif name == "step_back":
            self._step_back(args, command.by, t)
        elif name == "pause":
            if self.state == "running":
                self.state = "paused"
                self.engine.paused = True
                self.events.emit("session_paused", t, {"reason": f"{command.by} asked"})
                self.message = "paused"
        elif name == "resume":
            if self.state == "paused":
                self.state = "running"
                self.engine.paused = False
                self.events.emit("session_resumed", t, {})
                self.message = ""
        elif name == "stop":
            self.engine.paused = False
            self.state = "running"
            self._to_post(t, "stopped", command.by)
        elif name == "set_param":
            if "value" in args:
                self._set_param(str(args.get("name")), args["value"], command.by)
            else:
                self.message = "set_param: give a name and a value"
        elif name == "switch_scene":
            self._switch(str(args.get("scene", "")), t)
        elif name == "recenter":
            self.engine.core.torso.request_recenter(str(args.get("source") or "companion"))
            self.message = "recentred: forward is where the patient faces now"
        elif name == "gate_override":
            self._gate_override(args, command.by, t)
        elif name == "set_patient":
            self._set_patient(args, command.by, t)
        elif name == "skin_tone":
            self._skin_tone(args.get("tone", ""), command.by, t)
        elif name == "limb_shape":
            self._limb_shape(args, command.by, t)
        elif name == "calibrate":
            try:
                self.message = self.engine.calibrate(
                    on_done=lambda result: self._calibrated(result, command.by))
            except VrgmiError as exc:
                self.message = str(exc)
        elif name == "start":
            self.message = "start: the session is already running" if not self.done else \
                "start: this session has ended; start a new one"
        elif name in PHANTOM_COMMANDS:
            self.phantom.command(self, command, t)
        else:
            self.message = f"{name}: not supported yet"

    def _set_param(self, name: str, value: ParamValue, by: str) -> None:
        if self.scene is None or self.scene.error is not None:
            self.message = "set_param: no scene is running"
            return
        try:
            self.scene.set_param(name, value, by)
            self.message = f"{self.scene.name}: {name} = {self.scene.inner.difficulty[name]!r}"
        except SceneParamError as exc:
            self.message = str(exc)

    def _switch(self, name: str, t: float) -> None:
        try:
            resolve_scene(name, self.registry)
        except VrgmiError as exc:
            self.message = str(exc)
            return
        block = self.current
        seconds = block.seconds if block is not None and block.part == "main" else None
        part = block.part if block is not None and block.part == "main" else "main"
        self._end_scene(t, completed=False)
        self.plan.insert(self.index + 1, Block(name, {}, seconds, part))
        self._next_block(t, offer_break=False)
        self.message = f"switched to {name}"

    def _gate_override(self, args: dict[str, Any], by: str, t: float) -> None:
        phase = args.get("phase", self.program.phase)
        if phase != self.program.phase:
            self.message = f"gate_override: the patient is in {self.program.phase}, not {phase}"
            return
        try:
            self.program = override(self.program, bool(args.get("advance")), by,
                                    str(args.get("reason", "")), self.events, t)
            self.message = f"gate override recorded: now in {self.program.phase}"
        except VrgmiError as exc:
            self.message = str(exc)
            return
        self._program_changed()

    def _step_back(self, args: dict[str, Any], by: str, t: float) -> None:
        """The therapist moves the patient back one phase (recorded; the session goes on
        in the phase it started in)."""
        phase = args.get("phase", self.program.phase)
        if phase != self.program.phase:
            self.message = f"step_back: the patient is in {self.program.phase}, not {phase}"
            return
        try:
            self.program = step_back(self.program, by, str(args.get("reason", "")),
                                     self.events, t)
            self.message = f"stepped back: now in {self.program.phase}"
        except VrgmiError as exc:
            self.message = str(exc)
            return
        self._program_changed()

    def _set_patient(self, args: dict[str, Any], by: str, t: float) -> None:
        """Change side / level / height: the engine rebuilds the limbs; the running scene
        restarts for the new limb, or ends as skipped when it does not support it."""
        engine = self.engine
        self._end_check()                # the limb changes under the block, not the check
        try:
            patient = engine.check_patient(args.get("side"), args.get("level"),
                                           args.get("height_m"))
        except VrgmiError as exc:
            self.message = str(exc)
            return
        old = engine.settings.patient
        if all(getattr(old, f) == getattr(patient, f) for f in _PATIENT_FIELDS.values()):
            self.message = "set_patient: nothing changed"
            return
        limb = get_level(patient.amputation_level).limb
        guarded, block = self.scene, self.current
        fresh: GuardedScene | None = None
        if guarded is not None:
            guarded.set_time(t)
            if guarded.error is None and limb in guarded.inner.limbs and block is not None:
                fresh = self._restarted(guarded, block, t)
            if fresh is None:
                why = (_wrong_limb(guarded.name, guarded.inner.limbs, limb)
                       if limb not in guarded.inner.limbs else
                       f"{guarded.name} could not restart for the new limb")
                guarded.end_skipped(why)
                self.scene = None
        try:
            changes = engine.set_patient(patient.amputation_side, patient.amputation_level,
                                         patient.height_m, scene=fresh)
        except VrgmiError as exc:     # the engine is as it was
            self.message = str(exc)
            if self.scene is None and guarded is not None:
                self._next_block(t, offer_break=False)
            return
        for key, (was, now) in changes.items():
            self.events.emit("param_changed", t, {"name": f"patient.{_PATIENT_EVENT[key]}",
                                                  "old": was, "new": now, "by": by})
        said = ", ".join(f"height {now:g} m" if k == "height_m" else f"{k} {now}"
                         for k, (_, now) in changes.items())
        if fresh is not None:
            self.scene = fresh
            self.message = f"patient: {said}; {fresh.name} restarted for the {limb}"
        elif guarded is not None:
            self._next_block(t, offer_break=False)
            self.message = f"patient: {said}; {why}, so it was skipped"
        else:
            self.message = f"patient: {said}"

    def _restarted(self, guarded: GuardedScene, block: Block, t: float) -> GuardedScene | None:
        """A new instance of the running scene with its difficulty values now (None if it
        cannot be made again)."""
        try:
            inner = type(guarded.inner)(**block.params)
            for name, value in guarded.inner.difficulty.as_dict().items():
                if inner.difficulty[name] != value:
                    inner.difficulty.set(name, value)
        except (VrgmiError, TypeError, KeyError) as exc:
            log.warning("vrgmi: %s cannot restart (%s)", guarded.name, _one_line(exc))
            return None
        inner.set_time(t)
        return GuardedScene(inner)

    def _skin_tone(self, tone: str, by: str, t: float) -> None:
        old = self.engine.settings.patient.skin_tone
        try:
            self.engine.set_skin_tone(tone)
        except VrgmiError as exc:
            self.message = str(exc)
            return
        new = self.engine.settings.patient.skin_tone
        self.events.emit("param_changed", t, {"name": "patient.skin_tone", "old": old,
                                              "new": new, "by": by})
        self.message = f"skin tone {new}"

    def _limb_shape(self, args: dict[str, Any], by: str, t: float) -> None:
        """The patient's limb shape, on every limb at once (a ``param_changed`` per value
        that changed: the records keep it with the patient)."""
        try:
            changes = self.engine.set_limb_shape(**args)
        except VrgmiError as exc:
            self.message = str(exc)
            return
        for key, (was, now) in changes.items():
            self.events.emit("param_changed", t, {"name": f"limb_shape.{key}", "old": was,
                                                  "new": now, "by": by})
        self.message = "limb shape: " + (", ".join(f"{k} {now:g}" for k, (_, now)
                                                   in changes.items()) or "unchanged")

    def _calibrated(self, result: Calibration, by: str) -> None:
        """The engine finished (or cancelled) a calibration: say so; record a success."""
        self.message = result.message
        if result.ok:
            new = result.as_dict()
            self.events.emit("param_changed", self.t, {"name": "patient.calibration",
                                                       "old": self._calibration, "new": new,
                                                       "by": by})
            self._calibration = new

    def _emergency(self, t: float, by: str = "therapist") -> None:
        """Within this frame: hide the room, limbs and scene, show the calm view, end."""
        self._end_scene(t, completed=False)
        self._show_calm(t)
        self.message = "emergency stop: the patient sees a calm, dim view"
        self.stopped_by = by
        self._finish(t, "emergency_stop")

    # -- status ---------------------------------------------------------------------------
    def _publish(self, t: float) -> None:
        engine = self.engine
        if self._frames % STATUS_TIMING_EVERY == 1:
            timing = engine.timer.recent()
            if len(timing):
                frame_ms = timing[:, -1]
                self._p99 = float(np.percentile(frame_ms, 99))
                budget = 1000.0 / engine.settings.display.refresh_hz
                self._dropped = int((frame_ms > budget).sum())
        scene = self.scene
        inner = scene.inner if scene is not None else None
        watch = getattr(inner, "watch", None)      # a mirror task's WatchMeter
        frame = engine.core.frame
        p = engine.settings.patient
        self.board.publish(EngineStatus(
            t=t, frame=engine.frame_index, state=self.state, session=self.session,
            patient=self.program.patient, side=p.amputation_side, level=p.amputation_level,
            phase=self.program.phase, scene=scene.name if scene else "",
            params=inner.difficulty.as_dict() if inner else {},
            schema=scene.schema if scene else [],
            frame_ms_p99=round(self._p99, 3), dropped_frames=self._dropped,
            tracking={"head": bool(frame.head_valid), "left": bool(frame.grip_valid[0]),
                      "right": bool(frame.grip_valid[1]), "hand": bool(frame.hand_valid.any()),
                      "residual": bool(engine.core.residual_tracked)},
            recent_trials=list(self._watch.trials),
            watch_share=watch.block_share if watch is not None else None,
            watching=watch.watching if watch is not None else None,
            turn_suspected=engine.core.torso.turn_suspected,
            message=self.message or str(getattr(inner, "message", "") or ""),
            alerts=list(self.alerts), phantom=self.phantom.status(engine.core),
            research=research_status(self.lsl, engine.settings),
            limb_shape=asdict(engine.settings.limb_shape)))


#: set_patient argument -> PatientSettings field, and -> the ``patient.*`` event name
_PATIENT_FIELDS = {"side": "amputation_side", "level": "amputation_level",
                   "height_m": "height_m"}
_PATIENT_EVENT = {"side": "side", "level": "amputation_level", "height_m": "height_m"}


def _wrong_limb(scene: str, limbs: Iterable[str], limb: str) -> str:
    return f"{scene} is for the {' and '.join(limbs)}; this patient trains the {limb}"


# --- summaries for gating -----------------------------------------------------------------

def _as_event(e: Event | dict[str, Any]) -> dict[str, Any]:
    if isinstance(e, Event):
        return {"kind": e.kind, "t": e.t, "data": e.data, "scene": e.scene,
                "session": e.session, "wall": e.wall}
    return e


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:
        return None
    return float(v)


def _side(d: dict[str, Any]) -> str | None:
    return next((d[k] for k in ("side", "stimulus_side", "limb_side", "shown_side")
                 if d.get(k) in ("left", "right")), None)


def _rt(d: dict[str, Any]) -> float | None:
    rt, rt_ms = _number(d.get("rt_s")), _number(d.get("rt_ms"))
    if rt is None and rt_ms is not None:
        rt = rt_ms / 1000.0
    return rt


def _ratio(d: dict[str, Any]) -> float | None:
    ratio = _number(d.get("ratio"))
    if ratio is None:
        imagined, executed = _number(d.get("imagined_s")), _number(d.get("executed_s"))
        if imagined is not None and executed:
            ratio = imagined / executed
    return ratio


def _laterality(rows: list[tuple[str, bool, float | None]]) -> dict[str, Any] | None:
    """Per side: accuracy (a timeout is wrong), the median RT (s) of correct answers and the
    number of trials, from (side, correct, rt) rows; None without any."""
    if not rows:
        return None
    out: dict[str, dict[str, Any]] = {"accuracy": {}, "rt_s": {}, "trials": {}}
    for side in ("left", "right"):
        mine = [r for r in rows if r[0] == side]
        rts = [rt for _, ok, rt in mine if ok and rt is not None]
        out["accuracy"][side] = sum(ok for _, ok, _ in mine) / len(mine) if mine else None
        out["rt_s"][side] = statistics.median(rts) if rts else None
        out["trials"][side] = len(mine)
    return out


def session_summary(events: Iterable[Event | dict[str, Any]],
                    flare_rise: int = SafetySettings.flare_rise) -> dict[str, Any]:
    """The per-session summary that :func:`vrgmi.program.gate` reads, from one session's
    events (Event objects or the dicts of :func:`vrgmi.events.read_events`).

    Laterality trials (scenes whose ``scene_started`` phase is ``laterality``) give accuracy
    per stimulus side and the median RT of correct answers (``rt_s`` or ``rt_ms``): the
    probe's trials (``"probe": true``) in ``laterality``, which the gate judges (None when
    the session had no probe), the training blocks' in ``laterality_training``; imagery
    trials the median ``ratio`` (or ``imagined_s / executed_s``); a ``kviq`` questionnaire
    the mean rating. The date is the local date of the first event.

    ``pain_flare`` compares the pre NRS with the post NRS or, when the post NRS is missing
    (skipped, an emergency or patient stop, a crash), with the latest in-session pain check
    (``nrs_check``): a rise of ``flare_rise`` or more. ``ssq_pre`` is the baseline SSQ
    total."""
    evs = [_as_event(e) for e in events]
    out: dict[str, Any] = {"session": "", "date": None, "phase": None, "patient": None,
                           "minutes": None, "reason": None, "nrs_pre": None, "nrs_post": None,
                           "seed": None, "pain_flare": None, "ssq_total": None, "scenes": [],
                           "nrs_check": None, "ssq_pre": None,
                           "laterality": None, "imagery": None}
    phases: dict[str, str] = {}
    lat: dict[str, list[tuple[str, bool, float | None]]] = {"probe": [], "training": []}
    ratios: list[float] = []
    kviq = None
    for e in evs:
        kind, d, scene = e.get("kind"), e.get("data") or {}, e.get("scene", "")
        if kind == "trial" and d.get("practice"):
            continue                          # practice trials are never scored
        if out["date"] is None and _number(e.get("wall")) is not None:
            out["date"] = datetime.fromtimestamp(e["wall"]).date().isoformat()
        if kind == "session_started":
            out.update(session=e.get("session", ""), phase=d.get("phase"), seed=d.get("seed"),
                       patient=d.get("patient"))
        elif kind == "session_finished":
            out.update(minutes=d.get("minutes"), reason=d.get("reason"))
        elif kind == "scene_started":
            phases[scene] = d.get("phase", "")
        elif kind == "scene_finished":
            out["scenes"].append({"scene": scene, "reason": d.get("reason")})
        elif kind == "questionnaire":
            inst, scores = d.get("instrument"), d.get("scores") or {}
            if inst == "nrs" and d.get("moment") in ("pre", "post", "check"):
                out[f"nrs_{d['moment']}"] = (d.get("answers") or [None])[0]
            elif inst == "ssq":
                out["ssq_pre" if d.get("moment") == "pre" else "ssq_total"] = scores.get("total")
            elif inst == "kviq":
                n = (_number(scores.get("visual_n")) or 0) + (_number(scores.get("kinesthetic_n"))
                                                              or 0)
                if n:
                    kviq = ((_number(scores.get("visual_sum")) or 0)
                            + (_number(scores.get("kinesthetic_sum")) or 0)) / n
        elif kind == "trial" and phases.get(scene) == "laterality":
            side = _side(d)
            if side is not None and d.get("correct") is not None:
                lat["probe" if d.get("probe") else "training"].append(
                    (side, bool(d["correct"]), _rt(d)))
        elif kind == "trial" and phases.get(scene) == "imagery":
            ratio = _ratio(d)
            if ratio is not None:
                ratios.append(ratio)
    latest = out["nrs_post"] if out["nrs_post"] is not None else out["nrs_check"]
    if out["nrs_pre"] is not None and latest is not None:
        out["pain_flare"] = pain_flare(out["nrs_pre"], latest, flare_rise)
    out["laterality"] = _laterality(lat["probe"])
    out["laterality_training"] = _laterality(lat["training"])
    if ratios or kviq is not None:
        out["imagery"] = {"ratio": statistics.median(ratios) if ratios else None,
                          "trials": len(ratios), "kviq_mean": kviq}
    return out
