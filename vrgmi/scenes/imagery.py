"""Explicit motor imagery, "Imagine it": watch the missing limb move, do it once with the
intact limb, then imagine it with the missing one and rate the image (docs/imagery.md).

The trial logic is :class:`vrgmi.imagery.session_logic.TrialLogic`; this class renders it.
The scene drives the phantom rig itself for the whole run (forward kinematics of the
movement's keyframes; hidden or frozen in the start posture while imagining), so the
patient never sees a mirror image here: mirror feedback is the next GMI phase. The intact
limb stays as tracked throughout: it is the patient's own hand or leg, and seeing it still
while imagining helps the patient keep it still.
"""
from __future__ import annotations

from typing import Any

from vrgmi.i18n import N_, _, for_side, language
from vrgmi.ik.solver import ArmSolver, LegSolver
from vrgmi.imagery.chronometry import SpeedMeter, SpeedTrace
from vrgmi.imagery.kviq import ANCHORS, QUESTIONS
from vrgmi.imagery.movements import MovementPlayer, joint_names
from vrgmi.imagery.progression import WINDOW
from vrgmi.imagery.session_logic import BlockResults, TrialConfig, TrialLogic, plan_block
from vrgmi.imagery.tones import tone_file
from vrgmi.render.ui import DIM_RGBA, HIGHLIGHT_RGBA, FacingView, OptionRow, Panel, backdrop
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param
from vrgmi.settings import Settings
from vrgmi.speech import Speaker
from vrgmi.tracking.frame import SIDES

#: where the panels float: further than the default so the limb in front stays in view,
#: a little above eye level for the arm and below it for the leg (where the patient looks)
VIEW_DISTANCE_M = 1.4
VIEW_DROP_M = {"arm": -0.22, "leg": 0.30}
#: status lines per (side, limb): whole sentences, so a translation can inflect them
WATCH = {("left", "arm"): N_("Watch your left arm"), ("right", "arm"): N_("Watch your right arm"),
         ("left", "leg"): N_("Watch your left leg"), ("right", "leg"): N_("Watch your right leg")}
YOUR_TURN = {("left", "arm"): N_("Your turn: do it once with your left hand, then rest"),
             ("right", "arm"): N_("Your turn: do it once with your right hand, then rest"),
             ("left", "leg"): N_("Your turn: do it once with your left foot, then rest"),
             ("right", "leg"): N_("Your turn: do it once with your right foot, then rest")}
KEEP_STILL = {"arm": N_("Your hand moved while you imagined. Next time, keep it still "
                        "and only imagine the movement."),
              "leg": N_("Your foot moved while you imagined. Next time, keep it still "
                        "and only imagine the movement.")}
HINT_RATE = N_("Left / right to choose  -  select to confirm  -  back to skip")
#: how long the feedback after a practice movement stays up (s)
PRACTICE_FEEDBACK_S = 6.0


class _Tones:
    """Count-in sounds when the display has audio; silent (never an error) otherwise."""

    def __init__(self, base, enabled: bool) -> None:
        self.sounds: dict[str, Any] = {}
        managers = getattr(base, "sfxManagerList", None) if base is not None else None
        if not enabled or not managers or not managers[0].is_valid():
            return
        for cue in ("count", "go", "end"):
            path = tone_file(cue)
            if path is None:
                return
            try:
                sound = base.loader.load_sfx(str(path))
            except Exception:   # noqa: BLE001 - a broken audio device: stay silent
                return
            if sound is not None:
                self.sounds[cue] = sound

    def play(self, cue: str) -> None:
        """Play ``cue`` ("count:3", "go", "end"), if there is a sound for it."""
        sound = self.sounds.get(cue.split(":")[0])
        if sound is not None:
            sound.play()


class ImageryScene(Scene):
    """Explicit motor imagery of the missing limb with mental chronometry and KVIQ ratings."""

    name = "imagery"
    description = ("watch the missing limb move, do it with the other limb, imagine it, "
                   "rate the image")
    phase = "imagery"
    params = (
        Param("level", "int", 1, "movement complexity: 1 one joint, 2 several joints, "
              "3 functional tasks", lo=1, hi=3),
        Param("movements", "int", WINDOW, "movements in the block (the default is what the "
              "level progression needs)", lo=1, hi=14),
        Param("repetitions", "int", 2, "times each movement is shown", lo=1, hi=5),
        Param("limb_during_imagery", "choice", "hidden", "the missing limb while imagining",
              choices=("hidden", "frozen")),
        Param("count_in_s", "float", 3.0, "count-in before imagining", lo=0.0, hi=5.0,
              unit="s"),
        Param("sound", "bool", True, "count-in tones"),
        Param("execute_with_intact", "bool", True,
              "do each movement once with the intact limb (timed for chronometry)"),
        Param("rate_kviq", "bool", True, "rate visual clarity and kinesthetic intensity 1-5"),
        Param("kviq_block", "bool", False,
              "run this limb's KVIQ movements instead of the level's movements"),
        Param("execute_timeout_s", "float", 15.0, "time allowed to do the movement",
              lo=3.0, hi=60.0, unit="s"),
        Param("imagine_timeout_s", "float", 30.0, "time allowed to imagine it",
              lo=5.0, hi=120.0, unit="s"),
        Param("rate_timeout_s", "float", 60.0, "time allowed for each rating",
              lo=10.0, hi=300.0, unit="s"),
    )
    emits = ("trial", "questionnaire", "block_finished")
    instructions = N_("Imagine it\n\nYou will see your missing limb make a movement. Do it "
                      "once with your other limb, then imagine making it with the missing "
                      "one, without moving. Press the button when you start imagining and "
                      "again when you finish. Then rate how clear and how strong the image "
                      "was.\n\nThe first movement is for practice.")
    #: the level carried between blocks and sessions (vrgmi.progress)
    carry_over = {"imagery.level": "level"}
    trial_fields = {
        "movement": "library id of the movement", "name": "its name",
        "level": "complexity 1-3", "kviq_item": "KVIQ item id, or null",
        "repetitions": "times it was shown", "demo_shows": "demonstrations watched",
        "executed_s": "intact-limb execution time (s), null when not detected",
        "execute_onset_s": "reaction from the 'your turn' prompt to movement onset (s)",
        "imagined_s": "time between the two marks (s), null when not marked",
        "ratio": "imagined_s / executed_s, null when either is missing",
        "visual": "KVIQ visual clarity 1-5, null when skipped",
        "kinesthetic": "KVIQ kinesthetic intensity 1-5, null when skipped",
        "marks": "mark times after the go tone (s)", "early_marks": "marks before go",
        "timeouts": "phases that timed out", "still_peak_mps":
        "peak intact-limb speed while imagining (m/s)",
        "still_drift_m": "largest intact-limb distance from its place at the go tone (m)",
        "intact_moved": "the intact limb moved while imagining (faster than "
                        "imagery.intact_moved_mps or further than imagery.intact_moved_m)",
        "practice": "a practice movement (block -1): never scored, rated or progressed",
        "onset_t": "display time of the trial's first frame, the demonstration's (s)",
        "go_t": "display time of the go tone's frame (s), null when not reached",
    }

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.movements: list = []
        self.results = BlockResults(int(self.difficulty["level"]))
        self.trial: TrialLogic | None = None
        self._next = 0
        self._trace = SpeedTrace()
        self._meter = SpeedMeter()
        self._solver = None
        self._player: MovementPlayer | None = None
        self._effector = 0
        self.phantom_shown = True
        self._view: FacingView | None = None
        self._tones: _Tones | None = None
        self._practice = 0                    # practice movements before the scored ones
        self._feedback_until = -1.0

    # -- set-up ---------------------------------------------------------------------------
    def setup(self, ctx: SceneContext) -> None:
        """Plan the block, make the demonstration solver and build the panels."""
        super().setup(ctx)
        core = ctx.core
        self.limb = core.limb
        self.side = core.amputated
        self.side_name = SIDES[self.side]
        self.intact_name = SIDES[core.intact_side]
        d = self.difficulty
        self.movements = plan_block(self.limb, int(d["level"]), int(d["movements"]),
                                    bool(d["kviq_block"]), ctx.seed)
        settings = ctx.settings if ctx.settings is not None else Settings()
        self._practice = min(settings.practice.imagery_trials, len(self.movements))
        self._thresholds = settings.imagery
        L = core.lengths
        self._solver = (ArmSolver(L.upper_arm, L.forearm, L.hand) if self.limb == "arm"
                        else LegSolver(L.thigh, L.shank, L.foot, L.ankle_height))
        self._player = MovementPlayer(self.limb)
        self._tones = _Tones(ctx.base, bool(d["sound"]))
        self._speaker = Speaker(ctx.base, language()) if settings.ui.speak_cues else None
        if ctx.root is not None:
            self._build_panels(ctx.root)

    def _build_panels(self, root) -> None:
        view = self._view = FacingView(root, "imagery", VIEW_DISTANCE_M, VIEW_DROP_M[self.limb])
        dist = view.distance_m
        backdrop(view.root, 0.95, 0.42, (0.0, 0.004, -0.01))
        self._title = Panel(view.root, (0.0, 0.0, 0.14), dist, 2.4, "imagery-title", card=False)
        self._body = Panel(view.root, (0.0, 0.0, 0.075), dist, 1.6, "imagery-body", card=False)
        self._body.text.set_wordwrap(30.0)
        self._status = Panel(view.root, (0.0, 0.0, -0.06), dist, 2.0, "imagery-status",
                             card=False)
        self._status.text.set_wordwrap(30.0)
        self._count = Panel(view.root, (0.0, 0.0, -0.11), dist, 4.5, "imagery-count",
                            card=False)
        self._row = OptionRow(view.root, ["1", "2", "3", "4", "5"], (0.0, 0.0, -0.05), dist,
                              min_line_deg=2.4)
        self._anchor = Panel(view.root, (0.0, 0.0, -0.125), dist, 1.6, "imagery-anchor",
                             card=False)
        self._progress = Panel(view.root, (0.0, 0.0, -0.185), dist, 1.5, "imagery-progress",
                               card=False)

    # -- per frame ------------------------------------------------------------------------
    def update(self, frame: SceneFrame, dt: float) -> None:
        """Run the trial logic, pose the phantom, play cues, show the texts."""
        if self.finished or self.ctx is None:
            return
        if self._view is not None:
            self._view.place(self.ctx.core, frame.head, frame.head_valid)
        if self.trial is None and frame.t < self._feedback_until:
            return                            # the practice feedback is up
        if self.trial is None:
            if self._next >= self._practice + len(self.movements):
                self._finish_block(frame.t)
                return
            self._start_trial(frame.t)
        trial = self.trial
        tracked = frame.phantom_visibility > 0.0
        position = frame.intact.positions[self._effector]
        speed = self._meter.update(position, dt, tracked)
        before = trial.phase
        trial.update(frame.t, frame.inputs, speed if tracked else float("nan"),
                     position if tracked else None)
        if trial.phase == "demonstrate" and before != "demonstrate":
            # shown again: glide in from the start posture, same length as planned
            self._player.start(trial.movement, trial.config.repetitions,
                               trial.movement.poses[0])
            trial.demo_s = self._player.total_s
        for cue in trial.cues:
            self._tones.play(cue)
        trial.cues.clear()
        if self._speaker is not None:
            if trial.phase == "cue" and before != "cue":
                self._speaker.say(for_side(trial.movement.cue, self.side_name))
            self._speaker.poll()
        self._pose_phantom(frame.t)
        if self._view is not None:
            self._show_texts(frame.t)
        if trial.done:
            if trial.practice:
                self.emit("trial", dict(trial.record, block=-1, side=self.side_name), frame.t)
                self._show_feedback(trial.record, frame.t)
            else:
                self.results.add(trial.record)
                self.emit("trial", dict(trial.record, block=0, side=self.side_name), frame.t)
            self.trial = None

    def _start_trial(self, t: float) -> None:
        d = self.difficulty
        practice = self._next < self._practice
        # practice on the block's first movements; the scored trials then run them all
        index = self._next if practice else self._next - self._practice
        movement = self.movements[index]
        limits = self._thresholds
        config = TrialConfig(intact_moved_m=limits.intact_moved_m,
                             intact_moved_mps=limits.intact_moved_mps,
                             repetitions=int(d["repetitions"]),
                             execute=bool(d["execute_with_intact"]),
                             execute_timeout_s=float(d["execute_timeout_s"]),
                             count_in_s=float(d["count_in_s"]),
                             imagine_timeout_s=float(d["imagine_timeout_s"]),
                             rate=bool(d["rate_kviq"]),
                             rate_timeout_s=float(d["rate_timeout_s"]))
        first = self._next == 0
        self._player.start(movement, config.repetitions,
                           None if first else self._player.current)
        self.trial = TrialLogic(movement, config, t, self._player.total_s, self._trace,
                                index, practice)
        self._effector = joint_names(self.limb).index(movement.effector)
        self._meter.reset()
        self._next += 1

    def _pose_phantom(self, t: float) -> None:
        ctx, trial, player, solver = self.ctx, self.trial, self._player, self._solver
        core = ctx.core
        solver.torso[:] = core.torso.pose
        root = core.torso.shoulder(self.side) if self.limb == "arm" else core.torso.hip(self.side)
        phase = trial.phase
        if phase == "demonstrate":
            player.pose(trial.elapsed(t), solver, self.side, root)
        elif phase == "execute" or self.difficulty["limb_during_imagery"] == "frozen":
            player.apply(trial.movement.poses[0], solver, self.side, root)
        shown = phase in ("demonstrate", "execute") or \
            self.difficulty["limb_during_imagery"] == "frozen"
        self.phantom_shown = shown
        if ctx.phantom_rig is not None:
            ctx.phantom_rig.apply(solver.positions, solver.rotations, 1.0 if shown else 0.0)

    def _show_texts(self, t: float) -> None:
        trial = self.trial
        if trial is None:
            return
        m, phase = trial.movement, trial.phase
        rating = phase in ("rate_visual", "rate_kinesthetic")
        counting = phase == "count_in"
        self._title.set_text(_(m.name))
        side = self.side_name
        body, status, color = for_side(m.instructions, side), "", HIGHLIGHT_RGBA
        if phase == "demonstrate":
            rep = self._player.repetition_at(trial.elapsed(t))
            status = _(WATCH[(side, self.limb)]) + (
                "  " + _("({n} of {total})").format(n=rep, total=trial.config.repetitions)
                if rep else "")
        elif phase == "execute":
            status = _(YOUR_TURN[(self.intact_name, self.limb)])
        elif phase == "cue":
            body = for_side(m.cue, side)
            status, color = _("Get ready  -  select to start, back to watch again"), DIM_RGBA
        elif counting:
            body = for_side(m.cue, side)
        elif phase == "imagine":
            body = for_side(m.cue, side)
            status = (_("Press the button when you start imagining") if not trial.marks
                      else _("... and press again when you finish"))
        elif rating:
            sub = "visual" if phase == "rate_visual" else "kinesthetic"
            body = _(QUESTIONS[sub])
            self._row.select(trial.rating - 1)
            self._anchor.set_text(_(ANCHORS[sub][trial.rating]))
        self._body.set_text(body)
        self._status.set_text(status, color)
        self._status.show(not counting and not rating)
        self._count.set_text(str(trial.count_left(t)) if counting else "")
        self._count.show(counting)
        self._row.root.show() if rating else self._row.root.hide()
        self._anchor.show(rating)
        if rating:
            progress = _(HINT_RATE)
        elif trial.practice:
            progress = _("Practice")
        else:
            progress = _("Movement {n} of {total}").format(n=trial.index + 1,
                                                           total=len(self.movements))
        self._progress.set_text(progress, DIM_RGBA)
        self._progress.show(not counting)

    def _show_feedback(self, record: dict[str, Any], t: float) -> None:
        """After a practice movement: the two times, and a reminder when the intact limb
        moved while imagining; the scored movements start after PRACTICE_FEEDBACK_S."""
        self._feedback_until = t + PRACTICE_FEEDBACK_S
        if self._view is None:
            return
        lines = [_("Practice done. Well done.")]
        if record["imagined_s"] is not None and record["executed_s"] is not None:
            lines.append(_("You imagined it in {imagined:.1f} s; doing it took {executed:.1f} s.")
                         .format(imagined=record["imagined_s"], executed=record["executed_s"]))
        if record["intact_moved"]:
            lines.append(_(KEEP_STILL[self.limb]))
        lines.append(_("Now the counted movements begin."))
        self._title.set_text(_("Practice"))
        self._body.set_text("\n".join(lines))
        for panel in (self._status, self._count, self._anchor, self._progress):
            panel.show(False)
        self._row.root.hide()

    def _finish_block(self, t: float) -> None:
        questionnaire = self.results.questionnaire()
        if questionnaire is not None:
            self.emit("questionnaire", questionnaire, t)
        self.emit("block_finished", {"block": 0, **self.results.summary()}, t)
        self.finished = True
        if self._view is not None:
            self._view.root.hide()

    def summary(self) -> dict[str, Any]:
        """Counts, mean ratio and ratings, and the level suggestion (docs/imagery.md)."""
        return self.results.summary()
