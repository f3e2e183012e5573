"""A clinic session end to end: the display, the engine, the session runner, the records
database, the companion and its live view, in whichever mode the machine offers.

``vrgmi run`` and ``vrgmi session`` come here. The layers, from the frame loop down:
:class:`ClinicDay` (one session after another, idle between them until the therapist presses
Start on the companion) -> :class:`~vrgmi.session.SessionRunner` (one session: questionnaires,
the phase's scenes, breaks, safety) -> :meth:`~vrgmi.app.Engine.frame` -> the scene.
:class:`ClinicServices` is the therapist's side around them (records, companion; it opens each
session's runner and closes it with the program's gate). :func:`run_session` runs a day in
the desktop window or headless, :func:`run_xr_session` in the headset, each through the one
frame loop (:func:`vrgmi.frame_loop.run_frames`) with the mode's frame source;
:func:`run_demo_sessions` is the headless demo of ``make run`` on a machine without a headset
or a screen: one short session per GMI phase with a scripted patient, writing screenshots,
the records database, a progress report and ``report.json``.
"""
from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, cast

from vrgmi.atomic import write_text
from vrgmi.control import Command, CommandQueue, EngineStatus, StatusBoard
from vrgmi.errors import VrgmiError
from vrgmi.events import EventBus, EventSink
from vrgmi.frame_loop import FrameLoop, run_frames
from vrgmi.frame_source import Feeder, OffscreenFrames, WindowFrames, bind_desktop_keys
from vrgmi.input import ACTIONS, ScriptedInput
from vrgmi.program import Program, ProgramError, SceneStep, check_steps, default_steps
from vrgmi.scenes.base import PHASES, Scene
from vrgmi.session import CALM_ENDS, SessionError, SessionRunner, _number
from vrgmi.settings import LimbShapeSettings, Settings

if TYPE_CHECKING:
    from vrgmi.app import Engine
    from vrgmi.companion.server import Companion
    from vrgmi.companion.snapshot import LiveView
    from vrgmi.outcomes.visit import FollowUp
    from vrgmi.records.db import Database
    from vrgmi.render.display import Display

Say = Callable[[str], None]
#: a session's or a report's JSON-ready summary
Summary = dict[str, object]
log = logging.getLogger("vrgmi.clinic")


@dataclass
class ClinicServices:
    """The records database (with its event sink) and the companion around one session.

    Neither is required: without a database the session's events stay in its JSON Lines
    log (one line says so); without the companion nobody can watch (one line says why).
    """

    board: StatusBoard = field(default_factory=StatusBoard)
    commands: CommandQueue = field(default_factory=CommandQueue)
    db: Database | None = None
    companion: Companion | None = None
    #: where one-line notices go (the console's progress lines)
    say: Say = field(default=lambda _m: None)

    @classmethod
    def open(cls, settings: Settings, say: Say, companion: bool = True) -> "ClinicServices":
        """Open the database named by the settings and start the companion if enabled."""
        from vrgmi.records import open_database, queries

        services = cls(say=say)
        p = settings.patient
        try:
            services.db = open_database(settings.data.database_url)
            queries.upsert_patient(services.db, p.id, side=p.amputation_side,
                                   level=p.amputation_level, height_m=p.height_m,
                                   skin_tone=p.skin_tone)
            say(f"records: {services.db.where}")
        except VrgmiError as exc:
            if services.db is not None:
                services.db.close()
            services.db = None
            say(f"{exc} (this session's events are kept in its events-*.jsonl file)")
        if companion and settings.companion.enabled:
            services._start_companion(settings, say)
        return services

    def _start_companion(self, settings: Settings, say: Say) -> None:
        from vrgmi.companion.outcomes import OutcomeRecords
        from vrgmi.companion.records import DatabaseRecords
        from vrgmi.companion.server import Companion, CompanionOptions
        from vrgmi.records.queries import report_norms

        opts = CompanionOptions.from_settings(settings)
        try:
            self.companion = Companion(self.board, self.commands,
                                       DatabaseRecords(self.db, report_norms(settings.norms),
                                                       OutcomeRecords.from_settings(self.db, settings))
                                       if self.db else None,
                                       port=opts.port, lan=opts.lan,
                                       cert_file=opts.cert_file, key_file=opts.key_file)
            self.companion.start()
            say(self.companion.pairing_banner())
        except VrgmiError as exc:
            self.companion = None
            say(f"{exc} (the session runs without the companion)")

    def program(self, settings: Settings, path: str | Path | None = None) -> Program:
        """The program file given, else the patient's program in the records, else a new
        one for the patient's limb (saved, so the next session continues it)."""
        from vrgmi.body import get_level
        from vrgmi.program import load_program

        pid = settings.patient.id
        if path:
            program = load_program(path)
            if program.patient != pid:
                raise ProgramError(f"program {Path(path).name} is for patient "
                                   f"{program.patient}, but this session's patient is {pid} "
                                   f"(set patient.id={program.patient} to run it)")
            return checked_steps(program)
        if self.db is not None:
            from vrgmi.records.programs import load_program as stored, save_program
            kept = stored(self.db, pid)
            if kept is not None:
                return checked_steps(kept)
        limb = get_level(settings.patient.amputation_level).limb
        program = Program(pid, steps=default_steps(limb))
        if self.db is not None:
            save_program(self.db, program)
        return program

    def check_sessions_today(self, program: Program, override: bool = False,
                             earlier: int = 0) -> None:
        """Refuse (one line) a session past the program's ``sessions_per_day`` for today,
        unless the therapist overrides. Today's sessions come from the records (else
        ``earlier``: the sessions this process ran today)."""
        n = earlier
        if self.db is not None:
            from vrgmi.records.queries import sessions_on
            n = sessions_on(self.db, program.patient, date.today())
        if n >= program.sessions_per_day and not override:
            raise SessionError(f"start: {program.patient} has had {n} of "
                               f"{program.sessions_per_day} sessions today (the program's "
                               "limit); a therapist may override")

    def runner(self, engine: Engine, program: Program, out_dir: Path,
               block_seconds: float | None = None,
               follow_up: FollowUp | None = None) -> SessionRunner:
        """A session runner on ``engine`` wired to these services: its events also go to
        a records sink of its own (closed with the session), a therapist's gate override
        is saved at once; a ``follow_up`` visit's answers are stored as the visit's."""
        sinks: list[EventSink] = []
        on_change = None
        if self.db is not None:
            from vrgmi.records.programs import save_program
            from vrgmi.records.store import RecordSink
            self.close_interrupted(program.patient, out_dir)
            sinks = [RecordSink(self.db, patient=program.patient)]
            on_change = lambda p: save_program(self.db, p)  # noqa: E731
            if follow_up is not None:
                from vrgmi.outcomes.schedule import Rules
                from vrgmi.outcomes.visit import VisitRecorder
                sinks.append(VisitRecorder(self.db, follow_up,
                                           Rules.from_settings(engine.settings.outcomes)))
        return SessionRunner(engine, program, out_dir, self.commands, self.board,
                             max_block_s=block_seconds, sinks=sinks,
                             on_program_change=on_change, follow_up=follow_up)

    def follow_up(self, settings: Settings, program: Program,
                  timepoint: str | None = None) -> FollowUp:
        """The follow-up visit (docs/outcomes.md) of ``program``'s patient at ``timepoint``,
        else the most urgent one due or overdue (one-line errors; it needs the records)."""
        from vrgmi.outcomes.battery import OutcomeError, battery_or_builtin
        from vrgmi.outcomes.schedule import Rules
        from vrgmi.outcomes.visit import plan_follow_up

        if self.db is None:
            raise OutcomeError("outcomes: a follow-up visit needs the records database")
        return plan_follow_up(self.db, program, timepoint, battery_or_builtin(settings)[0],
                              Rules.from_settings(settings.outcomes))

    def close_runner(self, runner: SessionRunner) -> Summary:
        """Close ``runner`` (events, records, summary), then gate the program (recorded, the
        phase advanced when its criteria are met). A gate that fails leaves its one line in
        ``summary["gate"]["error"]`` (a fault that is not a user error is also logged with
        its traceback): the session is stored either way."""
        summary = runner.close()
        if self.db is not None and runner.state != "idle":
            from vrgmi.records.programs import close_session
            try:
                summary["gate"] = close_session(
                    self.db, runner.program, summary,
                    flare_hold_days=runner.safety.flare_hold_days,
                    norms=runner.engine.settings.norms).as_dict()
            except VrgmiError as exc:
                summary["gate"] = {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001  a gate fault must not lose the summary
                log.exception("vrgmi: the gate failed after session %s", runner.session)
                summary["gate"] = {"error": f"gate: {type(exc).__name__}: {exc}"}
        return summary

    def close_interrupted(self, patient: str, logs_dir: Path) -> None:
        """Close the patient's sessions a crash left open as ``interrupted``, with what
        their logs in ``logs_dir`` and the records hold (vrgmi.records.interrupted); one
        line each. A database failure here is said and the new session goes on."""
        from vrgmi.records.interrupted import close_interrupted

        if self.db is None:
            return
        try:
            for closed in close_interrupted(self.db, patient, logs_dir):
                self.say(closed.line())
        except VrgmiError as exc:
            self.say(f"{exc} (sessions left open by a crash stay open)")

    def day(self, engine: Engine, program: Program, out_dir: Path,
            block_seconds: float | None = None, live: bool = True,
            stay_open: bool | None = None, follow_up: FollowUp | None = None) -> "ClinicDay":
        """A day of sessions on ``engine``, starting with ``program`` (a ``follow_up`` visit
        when given); it stays open between
        sessions (idle, the therapist presses Start) when ``stay_open``, by default when the
        companion runs (without it nobody could start the next one)."""
        return ClinicDay(self, engine, program, out_dir, block_seconds,
                         self.live_view(engine.display) if live else None,
                         self.companion is not None if stay_open is None else stay_open,
                         follow_up)

    def live_view(self, display: Display) -> LiveView | None:
        """The companion's small live picture of the patient's view (None without one)."""
        companion = self.companion
        if companion is None:
            return None
        from vrgmi.companion.snapshot import LiveView
        return LiveView(display.base, self.board, wanted=lambda: companion.watching > 0)

    def close(self) -> None:
        """Stop the companion, close the database."""
        if self.companion is not None:
            self.companion.stop()
        if self.db is not None:
            self.db.close()


def checked_steps(program: Program) -> Program:
    """``program`` once every step names an installed scene with valid difficulty values
    (a one-line :class:`ProgramError` otherwise, before anything runs)."""
    from vrgmi.scenes import available_scenes

    check_steps(program, available_scenes())
    return program


IDLE_MESSAGE = "no session is running; press Start"


class ClinicDay:
    """A day of sessions as the frame loop drives it (``step`` each frame, ``close`` at the
    end: a :class:`~vrgmi.frame_loop.FrameTarget`).

    It steps the current session's :class:`~vrgmi.session.SessionRunner`. When that session
    ends it is closed (:meth:`ClinicServices.close_runner`: summary, records, the program's
    gate) and, with ``stay_open`` (a companion is
    there to press Start), the day goes idle: the patient sees the calm view ("Session
    finished - thank you"), the status board says ``idle`` with the last session's id, and
    the day takes the therapist's commands itself: ``start`` (optionally for a patient id)
    begins the next session, anything else gets a one-line message. Without ``stay_open``
    :meth:`step` returns False once the session has ended, as a single session did.
    ``live`` (the companion's live view) lasts the whole day.
    """

    def __init__(self, services: ClinicServices, engine: Engine, program: Program,
                 out_dir: str | Path, block_seconds: float | None = None,
                 live: LiveView | None = None, stay_open: bool = False,
                 follow_up: FollowUp | None = None) -> None:
        self.services, self.engine, self.live = services, engine, live
        self.out_dir = Path(out_dir)
        self.block_seconds = block_seconds
        self.stay_open = stay_open
        #: the session running now (None while idle)
        self.session: SessionRunner | None = self._open(program, follow_up)
        #: the closed sessions' summaries, oldest first
        self.summaries: list[Summary] = []
        self.message = ""
        self._last: SessionRunner = self.session

    @property
    def runner(self) -> SessionRunner:
        """The running session's runner, or the last one's while idle."""
        return self.session if self.session is not None else self._last

    @property
    def idle(self) -> bool:
        """True between sessions."""
        return self.session is None

    def _open(self, program: Program, follow_up: FollowUp | None = None) -> SessionRunner:
        return self.services.runner(self.engine, program, self.out_dir, self.block_seconds,
                                    follow_up)

    def step(self, t: float, dt: float, render: bool = False) -> bool:
        """One frame of the session, or of the idle calm view; False once the day is over
        (the session ended and nobody can start another)."""
        try:
            if self.session is not None:
                if not self.session.step(t, dt, render):
                    self._session_ended(t)
                    if not self.stay_open:
                        return False
            else:
                for command in self.services.commands.drain():
                    self._idle_command(command, t)
                if self.session is not None:      # Start: its first frame is the next one
                    return True
                self.engine.frame(t, dt, render)
                self._publish_idle(t)
            return True
        finally:
            if self.live is not None:
                self.live.after_render()

    def _session_ended(self, t: float) -> None:
        """Close the session; the patient sees the calm view, the board says idle."""
        runner, self.session = self.session, None
        if runner is None:
            return
        self._last = runner
        if self.stay_open:
            # the calm view's events go to a bus of the day's own, not the closed session's
            self.engine.events = EventBus()
            self._show_calm("stopped" if runner.reason in CALM_ENDS else "finished")
        self.summaries.append(self.services.close_runner(runner))
        self.message = f"session {runner.session} ended ({runner.reason}); press Start " \
                       "for the next session"
        if self.stay_open:
            self._publish_idle(t)

    def _show_calm(self, text: str) -> None:
        from vrgmi.session import resolve_scene

        self.engine.world.hide()
        self.engine.paused = False
        try:
            self.engine.set_scene(resolve_scene("calm", self._last.registry)(text=text))
        except Exception as exc:          # the calm view is a nicety; idling must go on
            log.warning("vrgmi: calm view unavailable: %s", exc)

    def _idle_command(self, command: Command, t: float) -> None:
        if command.name == "step_back":
            self._idle_step_back(command, t)
            return
        if command.name != "start":
            self.message = f"{command.name}: {IDLE_MESSAGE}"
            return
        try:
            program = self._next_program(command.args.get("patient"))
            earlier = sum(1 for s in self.summaries if s.get("patient") == program.patient
                          and s.get("date") == date.today().isoformat())
            self.services.check_sessions_today(program, bool(command.args.get("override")),
                                               earlier)
            follow_up = (self.services.follow_up(self.engine.settings, program,
                                                 command.args["follow_up"])
                         if "follow_up" in command.args else None)
            self.engine.world.show()
            self.engine.paused = False
            self.session = self._open(program, follow_up)
        except VrgmiError as exc:
            self.message = f"start: {exc}"
            return
        self.message = ""

    def _idle_step_back(self, command: Command, t: float) -> None:
        """Between sessions: step the last session's patient back a phase (recorded in the
        program's overrides and the records, the command audited by the companion)."""
        from vrgmi.program import step_back

        last = self._last
        program = (self.services.program(self.engine.settings)
                   if self.services.db is not None else last.program)
        phase = command.args.get("phase", program.phase)
        if phase != program.phase:
            self.message = f"step_back: the patient is in {program.phase}, not {phase}"
            return
        try:
            program = step_back(program, command.by, str(command.args.get("reason", "")),
                                EventBus(), t)
            if self.services.db is not None:
                from vrgmi.records.programs import save_program
                save_program(self.services.db, program)
        except VrgmiError as exc:
            self.message = str(exc)
            return
        last.program = program
        self.message = f"stepped back: {program.patient} is now in {program.phase}"

    def _next_program(self, patient: str | None) -> Program:
        """Switch the engine to ``patient`` (from the records when known, else a new
        patient with the current settings) and return the program to run."""
        from vrgmi.records.schema import check_patient_id

        settings = self.engine.settings
        same = patient is None or patient == settings.patient.id
        if not same:
            self._switch_patient(check_patient_id(patient))
        if same and self.services.db is None:
            return self._last.program           # kept from the last session (overrides too)
        return self.services.program(self.engine.settings)

    def _switch_patient(self, patient: str) -> None:
        from vrgmi.records import queries

        engine, db = self.engine, self.services.db
        record = None
        if db is not None:
            try:
                record = queries.get_patient(db, patient)
            except queries.UnknownPatient:
                p = engine.settings.patient
                queries.upsert_patient(db, patient, side=p.amputation_side,
                                       level=p.amputation_level, height_m=p.height_m,
                                       skin_tone=p.skin_tone)
        if record is not None:
            engine.check_patient(record["amputation_side"], record["amputation_level"],
                                 record["height_m"])      # a bad record changes nothing
            old = engine.settings.patient
            if (old.amputation_side, old.amputation_level, old.height_m) != (
                    record["amputation_side"], record["amputation_level"],
                    record["height_m"] or old.height_m):
                engine.set_patient(record["amputation_side"], record["amputation_level"],
                                   record["height_m"])
            if record.get("skin_tone"):
                engine.set_skin_tone(record["skin_tone"])
            # the stored shape over the average one, never the previous patient's
            engine.set_limb_shape(**{**asdict(LimbShapeSettings()),
                                     **(record.get("limb_shape") or {})})
        engine.settings = replace(engine.settings,
                                  patient=replace(engine.settings.patient, id=patient))

    def _publish_idle(self, t: float) -> None:
        engine, last = self.engine, self._last
        p = engine.settings.patient
        self.services.board.publish(EngineStatus(
            t=t, frame=engine.frame_index, state="idle", session=last.session,
            patient=p.id, side=p.amputation_side, level=p.amputation_level,
            phase=last.program.phase if p.id == last.program.patient else "",
            message=self.message or f"session {last.session} ended; press Start",
            alerts=list(last.alerts), limb_shape=asdict(engine.settings.limb_shape)))

    def close(self) -> Summary:
        """Close the session still running (if any) and the live view; the last session's
        summary."""
        try:
            if self.session is not None:
                runner, self.session = self.session, None
                self.summaries.append(self.services.close_runner(runner))
            return self.summaries[-1] if self.summaries else {}
        finally:
            if self.live is not None:
                self.live.close()
                self.live = None


def run_xr_session(settings: Settings, program_path: str | Path | None, out_dir: str | Path,
                   seconds: float | None = None, progress: Say | None = None) -> Summary:
    """A session in the headset with the records and the companion. Raises
    :class:`~vrgmi.tracking.openxr.XrUnavailableError` (one line, before anything opens)
    when no OpenXR runtime answers."""
    from vrgmi.tracking.openxr import offered_extensions
    from vrgmi.xr_app import run_xr

    offered_extensions()
    say = progress or (lambda _m: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    services = ClinicServices.open(settings, say)
    try:
        program = services.program(settings, program_path)
        return run_xr(settings, progress, seconds, out_dir=out,
                      session=lambda engine: services.day(engine, program, out))
    finally:
        services.close()


class AutoPatient:
    """A demo patient for headless runs without an input script: answers each question
    after ``every_s`` seconds (the questionnaires start with nothing selected: a press
    right selects the lowest answer, NRS 0 or SSQ "None", then confirms), declines breaks,
    and answers the games' prompts (a laterality answer, imagery marks and ratings); it
    dismisses each instruction screen with select."""

    ANSWERS = {"pain_nrs": ("right", "select"), "ssq": ("right", "select"),
               "outcome_rating": ("right", "select"),
               "breathing": ("back",),
               "laterality": ("left", "right"), "imagery": ("select",)}
    #: seconds between presses on a questionnaire (a press, not a game's answer; the two
    #: SSQs of a session are 64 presses, which at a game's pace filled most of a short demo)
    QUESTION_EVERY_S = 0.15

    def __init__(self, every_s: float = 1.2) -> None:
        self.every_s = every_s
        self._last = -1e9
        self._scene: Scene | None = None
        self._k = 0

    def feed(self, runner: SessionRunner, t: float) -> None:
        """Push the next answer for the scene running now, if it is time."""
        scene = runner.scene
        if scene is not self._scene:
            self._scene, self._last = scene, t
        answers = self.ANSWERS.get(scene.name) if scene is not None else None
        screen = getattr(getattr(scene, "inner", None), "instruction_screen", None)
        if screen is not None and not screen.gate.done:
            answers = ("select",)                 # read the instructions, then go on
        every = self.QUESTION_EVERY_S if scene is not None and scene.name in QUESTIONS \
            else self.every_s
        if answers and t - self._last >= every:
            runner.engine.inputs.push(answers[self._k % len(answers)], t, "script")
            self._k += 1
            self._last = t


def load_input_script(path: str | Path) -> list[tuple[float, str]]:
    """``[[t, action], ...]`` from a JSON file (display-clock seconds); one-line errors."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SessionError(f"session: cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SessionError(f"session: {path} is not UTF-8 text") from None
    except RecursionError:
        raise SessionError(f"session: {path} is nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise SessionError(f"session: {path} is not valid JSON: {exc.msg} "
                           f"(line {exc.lineno})") from None
    if not isinstance(data, list):
        raise SessionError(f"session: {path} must hold a list of [time_s, action] pairs")
    if not data:
        raise SessionError(f"session: {path} holds no answers; nothing would answer the "
                           "pain question (give [time_s, action] pairs)")
    out = []
    for k, item in enumerate(data):
        if (not isinstance(item, list) or len(item) != 2 or _number(item[0]) is None
                or not 0.0 <= item[0] < math.inf or item[1] not in ACTIONS):
            raise SessionError(f"session: {path} entry {k} = {repr(item)[:40]} must be "
                               f"[time_s >= 0, action] with action one of {', '.join(ACTIONS)}")
        out.append((float(item[0]), item[1]))
    return out


def run_session(settings: Settings, program: Program, out_dir: str | Path,
                mode: str = "headless", script: list[tuple[float, str]] | None = None,
                block_seconds: float | None = None, max_seconds: float = 3600.0,
                progress: Say | None = None, services: ClinicServices | None = None,
                screenshots: bool = True, realtime: bool = False,
                follow_up: FollowUp | None = None) -> Summary:
    """Run a session of ``program`` and return its summary; with the companion the day
    goes on (:class:`ClinicDay`: idle between sessions, the therapist starts the next one)
    until Escape or ``max_seconds``, and the summary is the last session's.

    ``headless``: a scripted pose source, ``script`` (or an :class:`AutoPatient`) answers,
    one patient-view screenshot per block (``<k>-<scene>.png``). ``desktop``: the window,
    the mouse moves the intact hand, the arrow keys / Enter / Backspace answer, the pairing
    card shows the companion's QR code. ``services`` (records, companion) are used when
    given; the caller closes them. ``realtime`` paces headless frames at the display rate.
    ``follow_up``: the first session is that follow-up visit (docs/outcomes.md)."""
    from vrgmi.app import Engine, local_pose_source
    from vrgmi.core import warmup
    from vrgmi.render.display import open_display

    say = progress or (lambda _m: None)
    services = services or ClinicServices()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    warmup(progress)
    display = open_display("desktop" if mode == "desktop" else "headless",
                           size=(settings.display.width, settings.display.height))
    try:
        engine = Engine(settings, local_pose_source(settings, display), display)
        day = services.day(engine, program, out, block_seconds, live=mode == "desktop",
                           follow_up=follow_up)
        say(f"session {day.runner.session}: {program.phase} for {program.patient}, "
            f"events -> {day.runner.log_path}")
        feeder = ScriptedInput(script) if script is not None else None
        try:
            if mode == "desktop":
                say("vrgmi: desktop window open; the mouse moves the intact hand, the arrow "
                    "keys, Enter and Backspace answer, Escape or P stops the session "
                    "(then quits), M held recentres (1 s) and stops (2.5 s), R recentres")
                run_desktop_day(display, day, services, feeder, max_seconds)
            else:
                auto = AutoPatient() if script is None else None
                shots = run_headless_day(settings, day, feeder, auto, max_seconds,
                                         out if screenshots else None, realtime)
                say(f"session: wrote {len(shots)} screenshots")
                waiting = _unanswered(day, feeder)
                if feeder is not None and waiting:
                    raise SessionError(
                        f"session: the input script ran out at {feeder.end_t:g} s and nothing "
                        f"answers the {waiting} question; the session was "
                        "stopped (add answers to the script)")
        finally:
            summary = day.close()
            engine.close()
    finally:
        display.close()
    return summary


#: questions only the patient (or a script) answers: a script that has run out while one
#: waits this long (display seconds) ends the headless session instead of waiting forever
QUESTIONS = ("pain_nrs", "ssq", "outcome_rating")
UNANSWERED_S = 10.0
#: seconds into a block its screenshot is taken (headless sessions)
SHOT_AFTER_S = 0.7


def _unanswered(day: ClinicDay, feeder: ScriptedInput | None) -> str:
    """The question's name while one waits that the input script, run out, can never
    answer ("" otherwise)."""
    scene = day.runner.scene
    if (feeder is not None and feeder.done and not day.idle and scene is not None
            and scene.name in QUESTIONS and day.runner.t - feeder.end_t >= UNANSWERED_S):
        return scene.name
    return ""


def _feeders(day: ClinicDay, feeder: ScriptedInput | None,
             auto: AutoPatient | None = None) -> list[Feeder]:
    """The scripted input of a day's frames: the input script, then the demo patient."""
    inputs = day.engine.inputs
    feeders: list[Feeder] = []
    if feeder is not None:
        feeders.append(lambda t: feeder.feed(inputs, t))
    if auto is not None:
        feeders.append(lambda t: auto.feed(day.runner, t))
    return feeders


def run_headless_day(settings: Settings, day: ClinicDay, feeder: ScriptedInput | None,
                     auto: AutoPatient | None, max_seconds: float, shots_dir: Path | None,
                     realtime: bool = False) -> list[str]:
    """The day's frames offscreen at the display rate (as fast as the machine goes, or
    paced in real time) until it is over, a script that ran out leaves a question
    unanswered, or ``max_seconds``; a patient-view screenshot per block. Returns the
    screenshots' paths."""
    rate = settings.display.refresh_hz
    shots: list[str] = []
    last = None

    def after(loop: FrameLoop, _frame: object) -> None:
        nonlocal last
        if not loop.alive or _unanswered(day, feeder):
            loop.stop()
            return
        runner = day.runner
        if (shots_dir is not None and runner.scene is not None and runner.scene is not last
                and runner.block_s >= SHOT_AFTER_S):
            last = runner.scene
            shots.append(str(day.engine.screenshot(
                shots_dir / f"{len(shots):02d}-{runner.scene.name}.png")))

    frames = OffscreenFrames(rate, max_frames=math.ceil(max_seconds * rate),
                             realtime=realtime, feeders=_feeders(day, feeder, auto))
    run_frames(frames, day.engine, day, on_frame=after)
    return shots


def run_desktop_day(display: Display, day: ClinicDay, services: ClinicServices,
                    feeder: ScriptedInput | None = None, max_seconds: float = 3600.0) -> None:
    """The day's frames in the desktop window until Escape (once no session runs; while
    one runs it is the patient's stop) or ``max_seconds``; the companion's pairing card is
    shown until the therapist presses C."""
    from vrgmi.app import DESKTOP_KEYS

    base = display.base
    engine = day.engine
    card = None
    if services.companion is not None:
        from vrgmi.companion.pairing_card import show_pairing_card
        token, _link = services.companion.pairing()
        card = show_pairing_card(base, services.companion.url, token,
                                 services.companion.fingerprint)
        base.accept("c", card.remove_node)          # the therapist hides the card once paired
    frames = WindowFrames(display, _feeders(day, feeder))
    loop = FrameLoop(frames, engine, day, seconds=max_seconds)

    def escape() -> None:
        """The patient's stop key while a session runs; else quit."""
        if day.idle or day.runner.done:
            loop.stop()
        else:
            engine.inputs.push("pause", frames.t, "keyboard")

    unbind = bind_desktop_keys(display, engine.inputs, lambda: frames.t, DESKTOP_KEYS, escape,
                               lambda: engine.core.torso.request_recenter("key"))
    try:
        loop.run()
    finally:
        unbind()
        if card is not None:
            card.remove_node()


def demo_program(patient: str, limb: str, phase: str, block_minutes: float = 0.2) -> Program:
    """A short program in ``phase`` for the demo: each of the phase's scenes once."""
    steps = {name: [replace(s, minutes=block_minutes) for s in seq[:3]]
             for name, seq in default_steps(limb).items()}
    if phase == "laterality":
        steps["laterality"] = [SceneStep("laterality", block_minutes)]
    return Program(patient, phase=phase, steps=steps, breathing_between_blocks=False)


def run_demo_sessions(settings: Settings, out_dir: str | Path, block_seconds: float = 12.0,
                      progress: Say | None = None) -> Summary:
    """The headless demo: one short session per GMI phase with a scripted patient.

    Writes per phase ``<phase>/<k>-<scene>.png`` and ``events-*.jsonl``, the records
    database ``records.sqlite`` (unless ``data.database_url`` names one), the patient's
    progress report PDF, and ``report.json`` (returned)."""
    from vrgmi.body import get_level
    from vrgmi.export import export_patient
    from vrgmi.outcomes.demo import run_demo_outcomes
    from vrgmi.records.queries import report_norms

    say = progress or (lambda _m: None)
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not settings.data.database_url:
        settings = replace(settings, data=replace(settings.data,
                                                  database_url=f"sqlite:///{out / 'records.sqlite'}"))
    limb = get_level(settings.patient.amputation_level).limb
    services = ClinicServices.open(settings, say, companion=False)
    sessions: dict[str, Summary] = {}
    report: Summary = {"patient": settings.patient.id, "limb": limb, "sessions": sessions}
    t0 = time.perf_counter()
    try:
        for phase in PHASES:
            say(f"demo: the {phase} phase")
            program = demo_program(settings.patient.id, limb, phase,
                                   max(0.1, block_seconds / 60.0))
            summary = run_session(settings, program, out / phase, "headless",
                                  block_seconds=block_seconds, progress=progress,
                                  services=services)
            sessions[phase] = summary
        if services.db is not None:
            report["outcomes"] = run_demo_outcomes(services.db, settings.patient.id, out, say)
            report["exports"] = [str(p) for p in export_patient(
                services.db, settings.patient.id, "pdf", out / "progress-report.pdf",
                progress=progress, norms=report_norms(settings.norms))]
    finally:
        services.close()
    report["wall_s"] = round(time.perf_counter() - t0, 1)
    report["screenshots"] = sorted(str(p) for p in out.glob("*/*.png"))
    report["database"] = settings.data.database_url
    write_text(out / "report.json", json.dumps(report, indent=2, default=str), "demo")
    return report


def format_demo_report(report: Summary) -> str:
    """The demo's report as a few readable lines."""
    sessions = cast("dict[str, Summary]", report["sessions"])
    exports = cast("list[str]", report.get("exports", []))
    shots = cast("list[str]", report["screenshots"])
    lines = [f"demo: patient {report['patient']} ({report['limb']}), "
             f"{len(sessions)} sessions in {report['wall_s']} s"]
    for phase, s in sessions.items():
        lines.append(f"  {phase:<11} {s.get('reason', '?'):<10} "
                     f"NRS {s.get('nrs_pre')} -> {s.get('nrs_post')}, "
                     f"SSQ total {s.get('ssq_total')}")
    lines += [f"wrote {p}" for p in exports]
    lines.append(f"wrote {len(shots)} screenshots and "
                 f"{report['database']}")
    return "\n".join(lines)
