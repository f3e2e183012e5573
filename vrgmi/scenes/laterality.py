""""Left or right?": the laterality game (GMI phase 1; docs/laterality.md).

A hand or foot appears in front of the patient, in a posture, view and rotation; the
patient answers left or right as fast and accurately as they can (thumbstick left / right,
either trigger mapped to a side, or the arrow keys: one hand is enough). The task logic,
staircase and analysis are plain Python in :mod:`vrgmi.laterality`; this class only draws
what :class:`~vrgmi.laterality.task.LateralityTask` says, world-locked in front of the
patient: a slate backdrop card sized to frame it, a fixation cross, the stimulus (the engine's
own limb model, scaled to span ~30 deg, fading out over the forearm / shin (no cut end),
the left being the mirrored right model), an optional everyday object in the hand, the
question and the left / right hint written on the card during a trial, and a calm tick /
cross as feedback.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from panda3d.core import (AlphaTestAttrib, CardMaker, CullBinEnums, CullBinManager,
                          DepthTestAttrib, Geom, GeomNode, GeomTriangles, GeomVertexData,
                          GeomVertexFormat, GeomVertexWriter, LMatrix3f, NodePath, Point3, Quat,
                          RenderAttrib, Thread, Vec3, Vec4)

from vrgmi.body.postures import FOOT_POSTURES, HAND_POSTURES, posture_angles
from vrgmi.i18n import N_, _
from vrgmi.laterality.framing import frame_silhouette, outer_points
from vrgmi.laterality.staircase import next_session_start
from vrgmi.laterality.probe import PROBE_TRIALS
from vrgmi.laterality.stimuli import Stimulus
from vrgmi.laterality.task import LateralityTask, TaskConfig
from vrgmi.render.color import hex_for_framebuffer
from vrgmi.render.rig import MODEL_HEIGHT, LimbRig, RigError
from vrgmi.render.shaders import (ROOM, SKIN, Lighting, load_shader, set_lighting,
                                  shaders_supported)
from vrgmi.render.skin import SkinLook, StumpBlend, set_view_fade, skin_tone
from vrgmi.render.ui import Panel, line_height_for, text_line_deg
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import Param
from vrgmi.settings import LimbShapeSettings

#: where the stimulus floats: metres in front of the eyes along the gaze (near enough to
#: look large, far enough for comfortable convergence in a headset), whose pitch is clamped
#: (deg) so a patient looking at the floor or the ceiling still gets a comfortable view
STIMULUS_DISTANCE_M = 0.55
STAGE_PITCH_DEG = (-30.0, 10.0)
#: visual angle (deg) of the upright stimulus's length (cut to fingertips, heel to toes):
#: the hand or foot fills a good part of the view, as in clinical laterality apps. Each
#: limb model is scaled (about x1.26 for a hand, x1.1 for a foot) to reach it
STIMULUS_SPAN_DEG = 30.0
#: the backdrop card: distance behind the stimulus (m), half width and half height as seen
#: from the eyes (deg), colour (sRGB): a calm slate that every skin tone stands out against
BACKDROP_BEHIND_M = 0.35
BACKDROP_HALF_DEG = (25.0, 27.0)
BACKDROP_HEX = "#66727e"
#: the card's cull bin: drawn after the opaque room (sort 20), before the transparent bin (30)
BACKDROP_BIN, BACKDROP_BIN_SORT = "laterality_backdrop", 25
FIXATION_HEX = "#e9e6df"
TEXT_HEX = "#f2efe6"         # warm off-white, as vrgmi.render.ui's text
TICK_HEX = "#7fc08f"        # calm green
CROSS_HEX = "#e3a857"       # soft amber, never a harsh red
#: how much forearm / shin is framed with the hand / foot beyond the wrist / ankle (m, before
#: the height scale); the hand's forearm then fades out (:data:`CUT_FADE_M`)
WRIST_MARGIN_M = 0.045
ANKLE_MARGIN_M = 0.07
#: how much shin is drawn above the ankle (m, model): seen from the top the shin comes
#: toward the eye, so a short one would show its cut end (or the inside of the leg through
#: a fade); this long it runs out of the picture in every view and in-plane turn, as the
#: leg does in a photograph, and fades out toward the picture's edge ...
SHIN_SHOWN_M = 0.3
#: ... across these visual angles (deg) from the stage centre: past the framed foot (30 deg
#: across, so within ~17.3 deg of its centre), gone by the picture's edge (20 deg: vrgmi.
#: render.stimulus_render.PICTURE_FOV_DEG) and well inside the card (25 deg)
SHIN_VIEW_FADE_DEG = (17.5, 20.5)
#: a foot is shown by its own heel-to-ball axis (whatever the ankle's posture) tilted this
#: far (deg) about its transverse axis, toes toward the patient in the top view (heel-first
#: in the sole view, the same outline mirrored), and further where the shin would come
#: nearer to the line of sight: the camera never looks down the shin, which runs out of the
#: picture below the heel in the top view (behind the sole in the sole view)
FOOT_VIEW_TILT_DEG = 40.0
#: the forearm / shin fades out over this length (m, model) along the limb, to nothing at
#: the cut: no cut end, disc or opening shows from any view (an amputee patient should not
#: see a severed limb), and the hand or foot still reads as attached to an arm or a leg
CUT_FADE_M = 0.04
#: a hand is framed with its forearm from this far into the fade (alpha 0.16: what shows)
FRAME_FADE = 0.25
#: a soft key light for the stimulus from behind-above the patient's right shoulder, toward
#: the light; sky / ground fill keeps the shaded side readable
STAGE_LIGHTING = Lighting(key_direction=(0.30, -0.80, 0.60), key_color=(0.78, 0.75, 0.70),
                          sky=(0.52, 0.53, 0.56), ground=(0.38, 0.36, 0.33))
#: text line height (visual angle): larger than the panel minimum, read at a glance
TEXT_LINE_DEG = 2.6
#: messages (intro, rest, done): a little smaller, so the longest line fits on the card
MESSAGE_LINE_DEG = 2.2
#: during a trial: the question's centre above the stage centre, the answer hint's below,
#: and the hint words' distance left / right of the centre (deg, as seen from the eyes)
QUESTION_DEG = 21.5
HINT_DEG = -21.5
HINT_SIDE_DEG = 17.0
QUESTION_TEXT = N_("Left or right?")
#: the answer hint's words, left and right of the stimulus
HINT_WORDS = {-1.0: N_("left"), 1.0: N_("right")}
#: the intro's question, per limb set shown
INTRO_QUESTION = {("hand",): N_("Is it a left or a right hand?"),
                  ("foot",): N_("Is it a left or a right foot?"),
                  ("hand", "foot"): N_("Is it a left or a right hand or foot?")}
#: context props: colour (sRGB)
PROP_HEX = {"cup": "#5c9f97", "ball": "#d98c5f", "pen": "#3f6fa8"}


class LateralityScene(Scene):
    """Left or right? Judge the laterality of hands or feet as fast as possible."""

    name = "laterality"
    description = "left or right? judge the side of rotated hands or feet"
    phase = "laterality"
    params = (
        Param("limb", "choice", "auto", "which limbs are shown (auto: hands for an arm "
              "amputation, feet for a leg)", choices=("auto", "hand", "foot", "both")),
        Param("block_length", "int", 20, "stimuli per block", 4, 200),
        Param("blocks", "int", 3, "blocks in the session", 1, 20),
        Param("exposure_ms", "int", 0, "how long the stimulus shows (0: until the answer)",
              0, 20000, unit="ms"),
        Param("min_exposure_ms", "int", 500, "shortest exposure the staircase may reach",
              100, 20000, unit="ms"),
        Param("time_limit_ms", "int", 5000, "time to answer before a trial counts as missed",
              500, 20000, unit="ms"),
        Param("feedback", "bool", True, "show a tick or a cross after each answer"),
        Param("rotation_max_deg", "int", 180, "largest rotation about any axis", 0, 180,
              unit="deg"),
        Param("angle_step_deg", "int", 30, "rotations are multiples of this", 5, 90,
              unit="deg"),
        Param("axes", "choice", "in_plane", "rotation axes: in the picture plane only, or "
              "about 1-3 axes", choices=("in_plane", "1", "2", "3")),
        Param("views", "choice", "both", "back / top (dorsal), palm / sole (palmar) or both",
              choices=("both", "dorsal", "palmar")),
        Param("postures", "choice", "all", "posture set", choices=("open", "basic", "all")),
        Param("context", "bool", False, "the hand holds (the foot touches) an everyday object"),
        Param("adaptive", "bool", True, "a staircase keeps accuracy near the target by "
              "changing the rotation range, then the exposure"),
        Param("target_accuracy", "float", 0.80, "accuracy the staircase aims for", 0.55, 0.95),
        Param("start_level", "float", 0.0, "staircase start level (0 easiest .. 1 hardest)",
              0.0, 1.0),
        Param("iti_ms", "int", 1000, "fixation cross between stimuli", 200, 10000, unit="ms"),
        Param("iti_jitter_ms", "int", 400, "random +- change of the fixation time", 0, 5000,
              unit="ms"),
        Param("probe_trials", "int", PROBE_TRIALS, "pictures in the probe that opens the "
              "game: fixed reference difficulty, no feedback, judged by the laterality gate "
              "(an even number; 0 = no probe)", 0, 60),
    )
    emits = ("trial", "block_finished")
    #: the staircase level carried to the next session (vrgmi.progress)
    carry_over = {"laterality.level": "start_level"}
    instructions = N_("Left or right?\n\nYou will see a hand or a foot, turned in different "
                      "ways. Decide as quickly and as carefully as you can whether it is a "
                      "left or a right one, and answer with left or right (thumbstick, "
                      "trigger or arrow keys).\n\nA few practice pictures come first, "
                      "with a tick or a cross after each answer.")
    trial_fields = {
        "index": "trial number in the session (from 0)",
        "block": "block number (from 0)",
        "trial_in_block": "trial number in the block (from 0)",
        "limb": "hand or foot",
        "side": "the stimulus's side: left or right (the right answer)",
        "posture": "posture name (vrgmi.body.postures)",
        "view": "back / palm (hand), top / sole (foot)",
        "axes": "axes rotated about: in_plane, turn, tilt",
        "angles": "in-plane, turn, tilt degrees (right-limb convention)",
        "rotation_deg": "total rotation from upright, 0-180 deg",
        "medial_lateral": "fingers / toes toward the midline (medial), away (lateral), neutral",
        "context": "object held or touched, or null",
        "onset_t": "display time (s) of the first frame that showed the stimulus",
        "response_t": "display time (s) of the answer, null on timeout",
        "rt_ms": "response time = response_t - onset_t, ms; null on timeout",
        "answer": "left, right, or null on timeout",
        "correct": "answer == side",
        "timeout": "no answer within the time limit",
        "exposure_ms": "how long the stimulus showed (0: until the answer)",
        "time_limit_ms": "time allowed to answer",
        "rotation_max_deg": "rotation range in force",
        "level": "staircase level (0 easiest .. 1 hardest) the trial was drawn at",
        "anticipations": "answers given before the stimulus appeared (ignored)",
        "probe": "a probe trial (block 0 with a probe): fixed reference difficulty, no "
                 "feedback, no staircase; the laterality gate judges these",
        "practice": "a practice trial (block -1): never scored, never fed to the staircase",
    }

    def __init__(self, **difficulty: Any) -> None:
        super().__init__(**difficulty)
        self.task: LateralityTask | None = None
        self._view: _StageView | None = None
        self._placed = False
        self._shown: tuple | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def setup(self, ctx: SceneContext) -> None:
        """Build the task and, when rendering, the stage in front of the patient."""
        super().setup(ctx)
        self.task = LateralityTask(self._config(), self._on_trial, self._on_block)
        if ctx.root is not None and ctx.base is not None:
            self._view = _StageView(ctx, self.task.config.limbs)
        self._hide_body(True)

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Advance the task on the display clock and draw what it shows."""
        task = self.task
        if self._view is not None and not self._placed:
            self._view.place(frame.head if frame.head_valid else None)
            self._placed = True
        task.update(frame.t, frame.inputs)
        self._hide_body(True)     # the engine re-shows the limbs it posed this frame
        if self._view is not None:
            state = (task.phase, task.block, len(task.trials), task.feedback,
                     task.stimulus if task.stimulus_visible else None)
            if state != self._shown:
                self._shown = state
                self._view.show(task)
        self.finished = task.finished

    def teardown(self) -> None:
        """Show the engine's limbs again and remove the stage."""
        self._hide_body(False)
        if self._view is not None:
            self._view.remove()
            self._view = None
        super().teardown()

    def set_param(self, name: str, value: Any, by: str = "therapist") -> None:
        """Change one setting; it applies from the next trial."""
        super().set_param(name, value, by)
        if self.task is not None:
            self.task.reconfigure(self._config())

    def summary(self) -> dict[str, Any]:
        """The session's laterality figures (vrgmi.laterality.analysis.session_figures)."""
        if self.task is None:
            return {}
        out = self.task.summary()
        if self.difficulty["adaptive"] and self.task.trials:
            out["carry_over"] = {"laterality.level": next_session_start(
                out["level"], float(self.difficulty["target_accuracy"]))}
        return out

    # --- helpers -------------------------------------------------------------------------

    def _config(self) -> TaskConfig:
        d, ctx = self.difficulty, self.ctx
        limb = d["limb"]
        if limb == "auto":
            leg = ctx is not None and getattr(ctx.core, "limb", "arm") == "leg"
            limb = "foot" if leg else "hand"
        limbs = ("hand", "foot") if limb == "both" else (limb,)
        affected = None
        if ctx is not None and getattr(ctx.core, "amputated", None) in (0, 1):
            affected = ("left", "right")[ctx.core.amputated]
        exposure = float(d["exposure_ms"])
        return TaskConfig(
            limbs=limbs, block_length=d["block_length"], blocks=d["blocks"],
            exposure_ms=min(exposure, float(d["time_limit_ms"])),
            min_exposure_ms=float(d["min_exposure_ms"]),
            time_limit_ms=float(d["time_limit_ms"]), feedback=d["feedback"],
            rotation_max_deg=float(d["rotation_max_deg"]),
            angle_step_deg=float(d["angle_step_deg"]), axes=d["axes"], views=d["views"],
            postures=d["postures"], context=d["context"], adaptive=d["adaptive"],
            target_accuracy=float(d["target_accuracy"]), start_level=float(d["start_level"]),
            iti_ms=float(d["iti_ms"]),
            iti_jitter_ms=min(float(d["iti_jitter_ms"]), float(d["iti_ms"])),
            probe_trials=int(d["probe_trials"]),
            norms=ctx.settings.norms if ctx is not None and ctx.settings is not None else None,
            affected_side=affected, seed=ctx.seed if ctx is not None else 0,
            practice_trials=_practice_trials(ctx))

    def _on_trial(self, record: dict[str, Any]) -> None:
        self.emit("trial", record)

    def _on_block(self, block: int, figures: dict[str, Any]) -> None:
        self.emit("block_finished", {"block": block, **figures})

    def _hide_body(self, hidden: bool) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        for rig in (ctx.intact_rig, ctx.phantom_rig):
            if rig is not None:
                if hidden:
                    rig.root.hide()
                else:
                    rig.root.show()


def _practice_trials(ctx: SceneContext | None) -> int:
    """The ``practice.laterality_trials`` setting (its default without settings)."""
    settings = ctx.settings if ctx is not None and ctx.settings is not None else None
    if settings is None:
        from vrgmi.settings import PracticeSettings
        return PracticeSettings().laterality_trials
    return settings.practice.laterality_trials


class _StageView:
    """The Panda3D side: backdrop, fixation, stimulus rigs, props, feedback, text."""

    def __init__(self, ctx: SceneContext, limbs: tuple[str, ...]) -> None:
        base = ctx.base
        gsg = base.win.get_gsg()
        self._linear = bool(base.win.get_fb_properties().get_srgb_color())
        shaders = gsg is not None and shaders_supported(gsg)
        skin = load_shader(*SKIN, gsg=gsg) if shaders else None
        self._room_shader = load_shader(*ROOM, gsg=gsg) if shaders else None
        settings = ctx.settings
        height = settings.patient.height_m if settings is not None else MODEL_HEIGHT
        tone = settings.patient.skin_tone if settings is not None else "III"
        look = SkinLook(tone=skin_tone(tone))
        # the patient's own hands and feet: their limb shape, as in the mirror scenes
        shape = settings.limb_shape if settings is not None else None
        self.lengths = ctx.core.lengths
        self.root = ctx.root.attach_new_node("laterality_stage")
        set_lighting(self.root, STAGE_LIGHTING)
        self.root.set_light_off(1)    # fixed-function fallback: flat colours, no room lights
        self.card_distance_m = STIMULUS_DISTANCE_M + BACKDROP_BEHIND_M
        self._backdrop()
        self.fixation = self._flat("fixation", FIXATION_HEX,
                                   [((-0.018, 0.0), (0.018, 0.0)), ((0.0, -0.018), (0.0, 0.018))],
                                   0.0035)
        self.tick = self._flat("tick", TICK_HEX, [((-0.045, 0.0), (-0.012, -0.032)),
                                                  ((-0.012, -0.032), (0.05, 0.04))], 0.011)
        self.cross = self._flat("cross", CROSS_HEX, [((-0.035, -0.035), (0.035, 0.035)),
                                                     ((-0.035, 0.035), (0.035, -0.035))], 0.011)
        self.pivot = self.root.attach_new_node("stimulus")
        self.rigs: dict[tuple[str, str], _StimulusRig] = {}
        for limb in limbs:
            for side in ("left", "right"):
                self.rigs[(limb, side)] = _StimulusRig(
                    self.pivot, limb, side, height, skin, look, self.lengths, shape)
        self.props = {name: self._prop(name) for name in PROP_HEX}
        self.panel = Panel(self.root, (0.0, BACKDROP_BEHIND_M - 0.002, 0.0),
                           distance_m=self.card_distance_m, min_line_deg=MESSAGE_LINE_DEG,
                           name="laterality_text", card=False)
        self.panel.root.set_bin("fixed", 45)
        self.question = self._trial_text()
        self._hide_all()

    # --- placement ---

    def place(self, head: np.ndarray | None) -> None:
        """World-lock the stage where the patient looks as the game starts: along the gaze
        heading, its pitch clamped to :data:`STAGE_PITCH_DEG`, facing the eyes, no roll."""
        if head is None:
            pos, heading, pitch = Vec3(0.0, 0.0, 1.2), 0.0, 0.0
        else:
            pos = Vec3(float(head[0]), float(head[1]), float(head[2]))
            q = Quat(float(head[6]), float(head[3]), float(head[4]), float(head[5]))
            fwd = q.xform(Vec3(0.0, 1.0, 0.0))
            flat = fwd.xy.length()
            heading = math.degrees(math.atan2(-fwd.x, fwd.y)) if flat > 1e-6 else 0.0
            pitch = math.degrees(math.atan2(fwd.z, flat))
        lo, hi = STAGE_PITCH_DEG
        self.root.set_hpr(heading, min(hi, max(lo, pitch)), 0.0)
        self.root.set_pos(pos + self.root.get_quat().xform(Vec3(0.0, STIMULUS_DISTANCE_M, 0.0)))
        # the feet's long shins fade out toward the picture's edge, seen from the eyes here
        world = self.root.get_top()
        apex = world.get_relative_point(self.root, Point3(0.0, -STIMULUS_DISTANCE_M, 0.0))
        axis = world.get_relative_vector(self.root, Vec3(0.0, 1.0, 0.0))
        for (limb, _), rig in self.rigs.items():
            if limb == "foot":
                set_view_fade(rig.rig.character, apex, axis, SHIN_VIEW_FADE_DEG)

    # --- what the task shows ---

    def show(self, task: LateralityTask) -> None:
        """Draw the task's phase (called only when it changes)."""
        self._hide_all()
        phase = task.phase
        cfg = task.config
        if phase == "intro":
            practice = (_("First a few practice pictures,\nwith a tick or a cross after each.")
                        + "\n\n") if task.practicing else ""
            self._say(_(QUESTION_TEXT) + "\n\n" + _(INTRO_QUESTION[cfg.limbs]) + "\n"
                      + _("Answer as quickly and\ncarefully as you can.") + "\n\n" + practice
                      + _("Press left or right to start."))
        elif phase == "rest" and task.block == 0 and task.practice:
            self._say(_("Practice done. Well done.\n\nNow the counted pictures begin.\n"
                        "Press left or right to go on."))
        elif phase == "rest" and cfg.probe_trials and task.block == 1:    # after the probe
            self._say(_("Well done.\n\nRest a moment.\nPress left or right to go on."))
        elif phase == "rest":
            training = task.block - (1 if cfg.probe_trials else 0)
            self._say(_("Block {done} of {total} done.\nWell done.\n\n"
                        "Rest a moment.\nPress left or right to go on.")
                      .format(done=training, total=cfg.blocks))
        elif phase == "done":
            self._say(_("All done. Thank you!"))
        elif phase == "fixation":
            self.fixation.show()
        elif phase == "stimulus":
            self._show_stimulus(task.stimulus)
            self.question.show()
        elif phase == "response":
            self.question.show()
        elif phase == "feedback":
            (self.tick if task.feedback == "correct" else self.cross).show()

    def _say(self, text: str) -> None:
        """Show a message on the card, its lines centred on the stage centre."""
        panel = self.panel
        panel.set_text(text)
        line = panel.line_height_m
        panel.root.set_z((text.count("\n") / 2.0 - 0.33) * line)
        panel.show()

    def show_picture(self, stimulus: Stimulus) -> None:
        """Show ``stimulus`` alone on the card, no text (the printable pictures:
        vrgmi.render.stimulus_render)."""
        self._hide_all()
        self._show_stimulus(stimulus)

    def _show_stimulus(self, stimulus: Stimulus) -> None:
        rig = self.rigs[(stimulus.limb, stimulus.side)]
        rig.pose(stimulus.posture)
        rig.show(True)
        q = stimulus.quaternion()
        turn = Quat(float(q[3]), float(q[0]), float(q[1]), float(q[2]))
        self.pivot.set_quat(turn)
        rows = LMatrix3f()                      # Panda3D's: row k is where axis k goes
        turn.extract_to_matrix(rows)
        scale, position = rig.frame(np.array(rows, dtype=np.float64).reshape(3, 3).T)
        rig.holder.set_scale(scale)
        self.pivot.set_pos(*position)
        if stimulus.context is not None:
            prop = self.props[stimulus.context]
            prop.reparent_to(rig.offset)
            prop.set_pos(*rig.prop_anchor(stimulus.context))
            prop.set_quat(Quat(*rig.prop_quat(stimulus.context)))
            prop.show()

    def _hide_all(self) -> None:
        for node in (self.fixation, self.tick, self.cross, self.question,
                     *self.props.values()):
            node.hide()
        for rig in self.rigs.values():
            rig.show(False)
        self.panel.show(False)

    def remove(self) -> None:
        """Take the stage out of the scene."""
        self.root.remove_node()

    # --- geometry ---

    def _color(self, code: str) -> Vec4:
        return Vec4(*hex_for_framebuffer(code, self._linear), 1.0)

    def _backdrop(self) -> None:
        """The card behind the stimulus, sized by visual angle to frame it with a margin."""
        d = self.card_distance_m
        w, h = (d * math.tan(math.radians(a)) for a in BACKDROP_HALF_DEG)
        cm = CardMaker("laterality_backdrop")
        cm.set_frame(-w, w, -h, h)
        card = self.root.attach_new_node(cm.generate())
        card.set_pos(0.0, BACKDROP_BEHIND_M, 0.0)
        card.set_color(self._color(BACKDROP_HEX), 1)
        card.set_shader_off(1)
        # drawn after the room, over it wherever it is (the table may reach past the card),
        # and before the stimulus and its props (transparent bin: the skinned model's bounds
        # are its rest pose's, so back-to-front sorting cannot order it against the card),
        # fixation and feedback (fixed); it writes its depth, so the room never hides what
        # is drawn on the card
        bins = CullBinManager.get_global_ptr()
        if bins.find_bin(BACKDROP_BIN) < 0:
            bins.add_bin(BACKDROP_BIN, CullBinEnums.BT_fixed, BACKDROP_BIN_SORT)
        card.set_bin(BACKDROP_BIN, 0)
        card.set_attrib(DepthTestAttrib.make(RenderAttrib.M_always))   # (test off: no write)
        card.set_depth_write(True)

    def _trial_text(self) -> NodePath:
        """The question above the stimulus and the one-hand answer hint below it
        ("< left    right >" with drawn arrowheads), written on the card."""
        node = self.root.attach_new_node("laterality_question")
        d = self.card_distance_m
        y = BACKDROP_BEHIND_M - 0.002                  # on the card, just in front of it
        def at(deg: float) -> float:
            return d * math.tan(math.radians(deg))
        line = line_height_for(d, text_line_deg(TEXT_LINE_DEG))
        baseline = -0.33 * line                        # puts a line's middle on its z
        question = Panel(node, (0.0, y, at(QUESTION_DEG) + baseline), distance_m=d,
                         min_line_deg=TEXT_LINE_DEG, name="laterality_question_text",
                         card=False)
        question.set_text(_(QUESTION_TEXT))
        tip, z = at(HINT_SIDE_DEG), at(HINT_DEG)      # arrowheads' tips, out to the sides
        length, half, gap = 0.8 * line, 0.42 * line, 0.35 * line
        for sign, word in HINT_WORDS.items():
            back = sign * (tip - length)
            hint = Panel(node, (back - sign * gap, y, z + baseline), distance_m=d,
                         min_line_deg=TEXT_LINE_DEG, name=f"laterality_hint_{word}",
                         align="left" if sign < 0 else "right", card=False)
            hint.set_text(_(word))
            arrow = self._triangle(f"arrow_{word}", TEXT_HEX,
                                   ((sign * tip, z), (back, z + half), (back, z - half)))
            arrow.reparent_to(node)
            arrow.set_y(y)
        self.question_line_m = line
        return node

    def _flat_mesh(self, name: str, code: str, corners, y: float, triangles) -> NodePath:
        """Flat ``code``-coloured triangles on (x, z) ``corners`` (metres) at depth ``y``,
        facing the patient, unshaded."""
        vdata = GeomVertexData(name, GeomVertexFormat.get_v3(), Geom.UH_static)
        pos = GeomVertexWriter(vdata, "vertex")
        for x, z in corners:
            pos.add_data3(x, y, z)
        tris = GeomTriangles(Geom.UH_static)
        for a, b, c in triangles:
            tris.add_vertices(a, b, c)
        geom = Geom(vdata)
        geom.add_primitive(tris)
        node = GeomNode(name)
        node.add_geom(geom)
        path = self.root.attach_new_node(node)
        path.set_two_sided(True)
        path.set_color(self._color(code), 1)
        path.set_shader_off(1)
        return path

    def _triangle(self, name: str, code: str, corners) -> NodePath:
        """A flat filled triangle (x, z corners, metres) facing the patient."""
        path = self._flat_mesh(name, code, corners, 0.0, [(0, 1, 2)])
        path.set_light_off(1)
        path.set_bin("fixed", 44)
        path.set_depth_write(False)
        return path

    def _flat(self, name: str, code: str, segments: list, width: float) -> NodePath:
        """Thick line segments (x, z pairs, metres) as flat quads facing the patient."""
        corners, tris = [], []
        for (x0, z0), (x1, z1) in segments:
            dx, dz = x1 - x0, z1 - z0
            n = math.hypot(dx, dz)
            # square caps: extend half a width at both ends, offset half a width sideways
            ux, uz = dx / n * width / 2, dz / n * width / 2
            px, pz = -uz, ux
            start = len(corners)
            corners += [(x0 - ux - px, z0 - uz - pz), (x1 + ux - px, z1 + uz - pz),
                        (x1 + ux + px, z1 + uz + pz), (x0 - ux + px, z0 - uz + pz)]
            tris += [(start, start + 1, start + 2), (start, start + 2, start + 3)]
        path = self._flat_mesh(name, code, corners, -0.01, tris)
        path.set_bin("fixed", 0)
        return path

    def _prop(self, name: str) -> NodePath:
        color = self._color(PROP_HEX[name])
        if name == "ball":
            node = _sphere(name, 0.042, color)
        elif name == "cup":
            node = _cylinder(name, 0.037, 0.11, color, rim=self._color("#e9e4d8"))
        else:
            node = _cylinder(name, 0.0055, 0.145, color, rim=self._color("#e8e4da"))
        path = self.root.attach_new_node(node)
        path.set_bin("transparent", 1)
        if self._room_shader is not None:
            path.set_shader(self._room_shader, 1)
            path.set_shader_input("emission", 0.0)
        return path


class _StimulusRig:
    """One side's hand or foot model, fading out over the forearm / shin (:data:`CUT_FADE_M`),
    scaled to :data:`STIMULUS_SPAN_DEG`, posed by posture name."""

    def __init__(self, pivot: NodePath, limb: str, side: str, height: float, skin,
                 look: SkinLook, lengths, shape: LimbShapeSettings | None = None) -> None:
        from vrgmi.ik.solver import ArmSolver, LegSolver

        self.limb, self.side = limb, side
        self.index = 0 if side == "left" else 1
        L = lengths
        scale = height / MODEL_HEIGHT
        # distances (model metres along the rest limb axis from the root): ``cut`` where the
        # fade reaches nothing, ``framed_from`` where the part framed begins
        if limb == "hand":
            self.solver = ArmSolver(L.upper_arm, L.forearm, L.hand)
            cut = (L.upper_arm + L.forearm) / scale - WRIST_MARGIN_M
            framed_from = cut + FRAME_FADE * CUT_FADE_M
            reference = "open"
        else:
            self.solver = LegSolver(L.thigh, L.shank, L.foot, L.ankle_height)
            ankle = (L.thigh + L.shank) / scale
            cut, framed_from = ankle - SHIN_SHOWN_M, ankle - ANKLE_MARGIN_M
            reference = "neutral"
        self.cut, self.framed_from = cut, framed_from
        self.holder = pivot.attach_new_node(f"{limb}_{side}_scaled")
        self.offset = self.holder.attach_new_node(f"{limb}_{side}")
        self.rig = LimbRig(self.offset, "arm" if limb == "hand" else "leg", self.index,
                           height, skin, look,
                           StumpBlend(distance=cut, width=CUT_FADE_M, residual_alpha=0.0),
                           shape=shape)
        # (one-sided, as the rig draws it: nothing of the inside shows through the fade)
        self._shown = _ShownPart(self.rig, framed_from)
        _draw_fade_last(self._shown.mesh)
        self._posture: str | None = None
        #: per posture: the shown part's outer points, upright and centred on the pivot (the
        #: holder's frame), and the offset that centres them
        self._framed: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._neutral_pitch = 0.0
        if limb == "foot":
            self.solver.forward(posture_angles(limb, reference), self.index)
            self._neutral_pitch = self._foot_pitch()
        # frame every posture now, while the scene loads, not at a stimulus's onset
        for posture in (*(HAND_POSTURES if limb == "hand" else FOOT_POSTURES), reference):
            self.pose(posture)

    def _foot_pitch(self) -> float:
        """The posed heel-to-ball axis's elevation (rad) in the leg's sagittal plane."""
        axis = self._joint("ball") - self._joint("heel")
        return math.atan2(float(axis[2]), float(axis[1]))

    def pose(self, posture: str) -> None:
        """Pose the model (forward kinematics), upright for the views (a foot turned so its
        own heel-to-ball axis, not the shin, sets its view: see :data:`FOOT_VIEW_TILT_DEG`),
        and centre the shown part's bounding box on the pivot."""
        if posture == self._posture:
            return
        self._posture = posture
        s = self.solver
        s.forward(posture_angles(self.limb, posture), self.index)
        self.rig.apply(s.positions, s.rotations, 1.0)
        self.rig.character.node().force_update()    # the mesh follows the joints
        upright = Quat()
        if self.limb == "foot":
            # the foot's own axis tilted FOOT_VIEW_TILT_DEG, the shin at least as far
            tilt = max(FOOT_VIEW_TILT_DEG + math.degrees(self._neutral_pitch
                                                         - self._foot_pitch()),
                       FOOT_VIEW_TILT_DEG)
            upright.set_from_axis_angle(tilt, Vec3(1.0, 0.0, 0.0))
        self.offset.set_quat(upright)
        if posture not in self._framed:
            self.offset.set_pos(0.0, 0.0, 0.0)
            points = outer_points(self._shown.points(self.holder))
            centre = 0.5 * (points.min(axis=0) + points.max(axis=0))
            self._framed[posture] = (points - centre, -centre)
        self.offset.set_pos(*self._framed[posture][1])

    def frame(self, rotation: np.ndarray) -> tuple[float, np.ndarray]:
        """Scale and pivot position that frame the posed model turned by the rotation matrix
        ``rotation`` (3, 3): :func:`vrgmi.laterality.framing.frame_silhouette`."""
        return frame_silhouette(self._framed[self._posture][0] @ rotation.T,
                                STIMULUS_DISTANCE_M, STIMULUS_SPAN_DEG)

    def show(self, visible: bool) -> None:
        """Show or hide the model."""
        if visible:
            self.offset.show()
        else:
            self.offset.hide()

    def _joint(self, name: str) -> np.ndarray:
        return self.solver.positions[self.solver.joint_names.index(name)]

    def prop_anchor(self, prop: str) -> tuple[float, float, float]:
        """Where ``prop``'s centre goes, in the model's (offset node's) frame."""
        mirror = -1.0 if self.index == 0 else 1.0
        if self.limb == "foot":
            toe = self._joint("toe_tip")
            return (float(toe[0]), float(toe[1] + 0.05), float(toe[2] + 0.005))
        if prop == "pen":
            p = 0.5 * (self._joint("thumb_tip") + self._joint("index_tip"))
            return tuple(float(v) for v in p)
        palm = self._joint("palm")
        grip = 0.5 * (self._joint("thumb_tip") + self._joint("middle_intermediate"))
        p = 0.5 * (palm + grip)
        p[0] -= mirror * 0.012            # a little further palmar (palm faces medial)
        return tuple(float(v) for v in p)

    def prop_quat(self, prop: str) -> tuple[float, float, float, float]:
        """Panda3D (w, x, y, z) orientation of ``prop``: the cup upright along the hand's
        radial side, the pen through the pinch, pointing down and back."""
        if prop == "pen":
            return (0.9238795, 0.3826834, 0.0, 0.0)       # 45 deg about x
        return (0.7071068, 0.7071068, 0.0, 0.0)           # cylinder axis z -> +y (thumb side)


#: skin at least this opaque is drawn first, with depth writes; the fade after it, without
OPAQUE_ALPHA = 0.99


def _draw_fade_last(mesh: NodePath) -> None:
    """Draw the limb ``mesh`` in two passes (one node, two instances): its opaque skin
    with depth writes, then its fading part blended over that without them, so a fading
    forearm or shin in front of the hand or foot never hides it (turned in depth)."""
    parent = mesh.get_parent()
    opaque = parent.attach_new_node("opaque_pass")
    fading = parent.attach_new_node("fade_pass")
    mesh.reparent_to(opaque)
    mesh.instance_to(fading)
    opaque.set_attrib(AlphaTestAttrib.make(RenderAttrib.M_greater_equal, OPAQUE_ALPHA))
    fading.set_attrib(AlphaTestAttrib.make(RenderAttrib.M_less, OPAQUE_ALPHA))
    fading.set_depth_write(False)
    fading.set_bin("transparent", 1)


class _ShownPart:
    """The limb mesh's part the stage shows: its vertices past the cut (model metres along
    the rest limb axis, -Z, where the stump blend's alpha is 0.5) and the points where its
    triangles' edges cross the cut (the outline of the cut end), posed on demand."""

    def __init__(self, rig: LimbRig, cut: float) -> None:
        self.mesh = max(rig.model.find_all_matches("**/+GeomNode"),
                        key=lambda path: path.node().get_geom(0).get_vertex_data()
                        .get_num_rows())
        geom = self.mesh.node().get_geom(0)
        distance = -_positions(geom.get_vertex_data())[:, 2]
        self.rows = np.flatnonzero(distance > cut)
        tris = np.concatenate([np.array(geom.get_primitive(k).decompose().get_vertex_list(),
                                        dtype=np.int64) for k in range(geom.get_num_primitives())])
        edges = np.unique(np.sort(tris.reshape(-1, 3)[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2),
                                  axis=1), axis=0)
        ends = distance[edges] - cut
        crossing = ends[:, 0] * ends[:, 1] < 0.0
        self.edges = edges[crossing]
        self.along = (-ends[crossing, 0] / (ends[crossing, 1] - ends[crossing, 0]))[:, None]

    def points(self, frame: NodePath) -> np.ndarray:
        """The posed (skinned) points in ``frame``'s space: shown vertices and cut outline."""
        geom = self.mesh.node().get_geom(0)
        posed = _positions(geom.get_animated_vertex_data(True, Thread.get_current_thread()))
        outline = (1.0 - self.along) * posed[self.edges[:, 0]] \
            + self.along * posed[self.edges[:, 1]]
        m = np.array(self.mesh.get_mat(frame), dtype=np.float64).reshape(4, 4)  # row vectors
        return np.vstack([posed[self.rows], outline]) @ m[:3, :3] + m[3, :3]


def _positions(vdata: GeomVertexData) -> np.ndarray:
    """The (N, 3) vertex positions of ``vdata`` (float32 in its first array)."""
    array = vdata.get_array(0)
    stride = array.get_array_format().get_stride() // 4
    column = vdata.get_format().get_column("vertex")
    if column.get_start() != 0 or column.get_numeric_type() != Geom.NT_float32:
        raise RigError("the limb mesh's positions are not float32 at the start of a vertex")
    return np.frombuffer(memoryview(array), dtype=np.float32).reshape(-1, stride)[:, :3] \
        .astype(np.float64)


def _sphere(name: str, radius: float, color: Vec4, rings: int = 14,
            segments: int = 24) -> GeomNode:
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3n3c4(), Geom.UH_static)
    pos, nrm, col = (GeomVertexWriter(vdata, c) for c in ("vertex", "normal", "color"))
    tris = GeomTriangles(Geom.UH_static)
    for i in range(rings + 1):
        th = math.pi * i / rings
        for j in range(segments + 1):
            ph = 2 * math.pi * j / segments
            n = Vec3(math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th))
            pos.add_data3(n * radius)
            nrm.add_data3(n)
            # two-tone like a play ball: a lighter band around the middle
            band = 1.15 if abs(math.cos(th)) < 0.3 else 1.0
            col.add_data4(min(color.x * band, 1.0), min(color.y * band, 1.0),
                          min(color.z * band, 1.0), 1.0)
    for i in range(rings):
        for j in range(segments):
            a, b = i * (segments + 1) + j, (i + 1) * (segments + 1) + j
            tris.add_vertices(a, b, a + 1)
            tris.add_vertices(a + 1, b, b + 1)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode(name)
    node.add_geom(geom)
    return node


def _cylinder(name: str, radius: float, length: float, color: Vec4, rim: Vec4,
              segments: int = 24) -> GeomNode:
    """A closed cylinder along z, centred on the origin; the top cap in ``rim`` colour."""
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3n3c4(), Geom.UH_static)
    pos, nrm, col = (GeomVertexWriter(vdata, c) for c in ("vertex", "normal", "color"))
    tris = GeomTriangles(Geom.UH_static)
    h = length / 2
    for j in range(segments + 1):
        ph = 2 * math.pi * j / segments
        n = Vec3(math.cos(ph), math.sin(ph), 0.0)
        for z in (-h, h):
            pos.add_data3(n.x * radius, n.y * radius, z)
            nrm.add_data3(n)
            col.add_data4(color)
    for j in range(segments):
        a = 2 * j
        tris.add_vertices(a, a + 2, a + 1)
        tris.add_vertices(a + 1, a + 2, a + 3)
    for z, sign, c in ((-h, -1.0, color), (h, 1.0, rim)):
        centre = vdata.get_num_rows()
        pos.add_data3(0.0, 0.0, z)
        nrm.add_data3(0.0, 0.0, sign)
        col.add_data4(c)
        for j in range(segments + 1):
            ph = 2 * math.pi * j / segments
            pos.add_data3(math.cos(ph) * radius, math.sin(ph) * radius, z)
            nrm.add_data3(0.0, 0.0, sign)
            col.add_data4(c)
        for j in range(segments):
            a, b = centre + 1 + j, centre + 2 + j
            if sign > 0:
                tris.add_vertices(centre, a, b)
            else:
                tris.add_vertices(centre, b, a)
    geom = Geom(vdata)
    geom.add_primitive(tris)
    node = GeomNode(name)
    node.add_geom(geom)
    return node
