"""The engine frame: core (poll -> filters -> torso -> IK -> mirror) -> rigs -> scene -> render.

``Engine`` owns one patient's session on an open display: in every mode (the headset, the
desktop window, the headless sessions, the demo, the benchmarks) the one frame loop
(:func:`vrgmi.frame_loop.run_frames`) calls :meth:`Engine.frame`, directly or through the
session. ``run_demo`` (``vrgmi demo``) plays a scripted free-mirror session headless and
writes screenshots (patient and therapist views), the recording and a timing report.
"""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from panda3d.core import PerspectiveLens, Quat, RenderState, TransformState

from vrgmi.atomic import write_text
from vrgmi.body import get_level
from vrgmi.core import CorePipeline, warmup
from vrgmi.errors import VrgmiError
from vrgmi.render.display import Display, DisplayMode, grab_rgba, open_display, save_png
from vrgmi.render.environment import build_clinic_room
from vrgmi.render.rig import MODEL_HEIGHT, LimbRig
from vrgmi.render.shaders import ROOM, SKIN, load_shader
from vrgmi.render.color import linear_to_srgb
from vrgmi.render.skin import SkinLook, StumpBlend, set_skin_look, skin_tone
from vrgmi.render.ui import HoldNotice
from vrgmi.events import EventBus
from vrgmi.frame_loop import FrameLoop, run_frames
from vrgmi.frame_source import FrameTime, OffscreenFrames
from vrgmi.input import InputQueue
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.settings import (LimbShapeSettings, PatientSettings, Settings,
                            load_settings)
from vrgmi.body.limb_shape import SHAPE_KEYS
from vrgmi.spatial import quat_from_axis_angle, quat_mul, quat_rotate
from vrgmi.timing import StageTimer
from vrgmi.tracking.frame import SIDES, PoseSource, TrackingFrame
from vrgmi.tracking.scripted import ScriptedSource

ENGINE_STAGES = ("core", "rig", "scene", "render")
#: the therapist's third-person view: in front of the patient, to the side, looking back
THERAPIST_EYE = (1.1, 1.5, 1.45)
THERAPIST_LOOK = (0.0, 0.25, 0.75)
#: desktop keys -> patient input actions (vrgmi.input.ACTIONS)
DESKTOP_KEYS = {"arrow_left": "left", "arrow_right": "right", "arrow_up": "up",
                "arrow_down": "down", "enter": "select", "backspace": "back", "space": "mark",
                "m": "menu", "m-up": "menu_release", "p": "pause"}
#: vertical field of view of the first-person view (headsets show about 90-100 deg)
PATIENT_VFOV_DEG = 90.0
#: seconds of still, upright sitting a torso calibration records (TorsoTracker.calibrate
#: wants about 1-2 s)
CALIBRATION_S = 1.5
#: the calibration posture per limb: the arm's root is the shoulder (arms hanging give the
#: shoulders), the leg's the hip (hands on the knees give the hip spacing)
CALIBRATION_POSTURES = {"arm": "arms_down", "leg": "hands_on_knees"}
#: Engine.set_patient argument -> the settings key it changes
PATIENT_KEYS = {"side": "amputation_side", "level": "amputation_level", "height_m": "height_m"}


class EngineError(VrgmiError, ValueError):
    """A request to the running engine cannot be done (one line, safe to show a therapist)."""


@dataclass(frozen=True)
class Calibration:
    """The outcome of :meth:`Engine.calibrate`: ``ok`` and a one-line ``message``; when ok,
    the measured shoulder and hip joint spacing (m) and the torso yaw (deg)."""

    ok: bool
    posture: str
    message: str
    shoulder_spacing_m: float | None = None
    hip_spacing_m: float | None = None
    yaw_deg: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return dataclasses.asdict(self)


class _Recording:
    """Frames collected for a calibration (allocated once, when it starts)."""

    def __init__(self, posture: str, n: int,
                 on_done: Callable[[Calibration], None] | None) -> None:
        self.posture = posture
        self.frames = [TrackingFrame() for _ in range(n)]
        self.count = 0
        self.on_done = on_done


def stump_blend(core: CorePipeline, height_m: float,
                phantom_alpha: float = 1.0) -> tuple[StumpBlend, tuple, tuple]:
    """Where the phantom starts on the rest-pose model (model units, docs/rendering.md):
    (blend, root, axis) for :func:`vrgmi.render.skin.apply_skin`."""
    layout, scale = core.layout, height_m / MODEL_HEIGHT
    lengths = core.lengths.limb(core.limb)
    seg = layout.level.stump_segment
    if core.limb == "leg" and seg == 2:            # partial foot: along the foot, from the ankle
        ankle = (0.0, 0.0, -(lengths[0] + lengths[1]) / scale)
        return (StumpBlend(distance=max(0.0, layout.stump_end_rest[1] / scale),
                           phantom_alpha=phantom_alpha), ankle, (0.0, 1.0, 0.0))
    distance = (sum(lengths[:seg]) + layout.stump_end_offset) / scale
    return (StumpBlend(distance=distance, phantom_alpha=phantom_alpha), (0.0, 0.0, 0.0),
            (0.0, 0.0, -1.0))


#: resting hand (world delta from the rest pose, torso facing +y): pointing forward, palm
#: down (right: -90 deg about y, then 80 deg about x); the left one is its mirror image
_PALM_DOWN_RIGHT = quat_mul(quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), -np.pi / 2),
                            quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.radians(80.0)))
_PALM_DOWN = (_PALM_DOWN_RIGHT * np.array([1.0, -1.0, -1.0, 1.0]), _PALM_DOWN_RIGHT)
_FORWARD = np.array([0.0, 1.0, 0.0])


class SeatedLimbs:
    """The limbs the session does not mirror, resting as a seated patient's would, so the
    body looks whole: in arm sessions the legs bent at the knee, feet on the floor; in leg
    sessions the hands rest beside the hips on the outside of the thighs at the seat's
    edge, elbows a little out, so the patient looking down sees past them to the knees,
    the lower legs and the feet (the hands on the lap would hide them)."""

    #: resting wrist in leg sessions, from the hip joint in the torso frame (m, for a
    #: 0.43 m thigh): out to the side, forward, up
    HAND_REST_M = (0.14, 0.05, 0.04)
    #: resting hand in leg sessions (right; the left is its mirror image): the palm-down
    #: forward hand pitched fingers-down and rolled palm-in, on the outer thigh
    HAND_TILT = quat_mul(quat_from_axis_angle(np.array([1.0, 0.0, 0.0]), np.radians(-35.0)),
                         quat_from_axis_angle(np.array([0.0, 1.0, 0.0]), np.radians(45.0)))
    #: elbow swivel (deg, + = out to the side) of the resting arms in leg sessions
    ELBOW_OUT_DEG = 20.0

    def __init__(self, parent, core: CorePipeline, height_m: float, shader,
                 look: SkinLook, shape: LimbShapeSettings | None = None) -> None:
        from vrgmi.ik.solver import ArmSolver, LegSolver

        L = core.lengths
        self.core = core
        self.limb = "leg" if core.limb == "arm" else "arm"
        make = ((lambda: LegSolver(L.thigh, L.shank, L.foot, L.ankle_height))
                if self.limb == "leg" else (lambda: ArmSolver(L.upper_arm, L.forearm, L.hand)))
        self.solvers = (make(), make())
        self.rigs = tuple(LimbRig(parent, self.limb, side, height_m, shader, look, shape=shape)
                          for side in (0, 1))
        tilt = (self.HAND_TILT * np.array([1.0, -1.0, -1.0, 1.0]), self.HAND_TILT)
        self._hand_q = tuple(quat_mul(tilt[k], _PALM_DOWN[k]) for k in (0, 1))
        self._right = np.zeros(3)

    def apply(self) -> None:
        """Re-pose both resting limbs in the current torso frame."""
        torso = self.core.torso
        yaw = torso.pose[3:]
        fwd = quat_rotate(yaw, _FORWARD)
        L = self.core.lengths
        right = self._right
        right[0], right[1] = fwd[1], -fwd[0]
        for side, (solver, rig) in enumerate(zip(self.solvers, self.rigs)):
            solver.torso[:] = torso.pose
            if self.limb == "leg":
                root = torso.hip(side)
                solver.root[:] = root
                solver.target[:3] = root + 0.97 * L.thigh * fwd
                solver.target[2] = L.ankle_height
                solver.target[3:] = yaw
                solver.solve(side)
            else:
                hip, scale = torso.hip(side), L.thigh / 0.43
                out, ahead, up = self.HAND_REST_M
                solver.root[:] = torso.shoulder(side)
                solver.target[:3] = hip + scale * ((out if side else -out) * right + ahead * fwd)
                solver.target[2] = hip[2] + scale * up
                solver.target[3:] = quat_mul(yaw, self._hand_q[side])
                solver.solve(side, np.radians(self.ELBOW_OUT_DEG))
            rig.apply(solver.positions, solver.rotations, 1.0)


class Engine:
    """A session on an open display: the core, both limbs, the room, a scene, the camera.

    ``inputs`` collects the patient's answers (sources and key handlers push into it);
    ``events`` carries what the scenes measure to the session's sinks. While ``held`` (the
    session is ``paused`` by the therapist or the patient, or the headset's ``focus_lost``)
    the core is not stepped, so the limbs hold their pose, and the scene is not updated;
    frames are still drawn.
    """

    def __init__(self, settings: Settings, source: PoseSource, display: Display,
                 scene: Scene | None = None, inputs: InputQueue | None = None,
                 events: EventBus | None = None) -> None:
        self.settings = settings
        self.display = display
        self.inputs = inputs or InputQueue()
        self.events = events or EventBus()
        self.paused = False
        self.focus_lost = False
        self.frame_index = 0
        #: the seed the next scene's context gets (the session sets it per block)
        self.scene_seed = 0
        base = display.base
        self.core = CorePipeline(settings, source)
        gsg = display.win.get_gsg()
        skin = load_shader(*SKIN, gsg=gsg) if display.shaders else None
        room = load_shader(*ROOM, gsg=gsg) if display.shaders else None
        self.world = base.render.attach_new_node("vrgmi_world")
        self.room = build_clinic_room(self.world, room)
        self.room.set_focus("upper" if self.core.limb == "arm" else "lower")
        self._skin = skin
        self._look = SkinLook(tone=skin_tone(settings.patient.skin_tone))
        self.intact_rig, self.phantom_rig, self.seated = self._build_limbs(self.core)
        self._calibrating: _Recording | None = None
        #: the latest finished torso calibration (None before the first)
        self.calibration: Calibration | None = None
        lens = PerspectiveLens()
        aspect = display.win.get_x_size() / display.win.get_y_size()
        v = np.radians(PATIENT_VFOV_DEG)
        lens.set_fov(float(np.degrees(2 * np.arctan(np.tan(v / 2) * aspect))), PATIENT_VFOV_DEG)
        lens.set_near_far(0.03, 30.0)
        base.cam.node().set_lens(lens)
        base.cam.set_pos_hpr(0, 0, 0, 0, 0, 0)   # the eye is the camera node: the head pose
        self.timer = StageTimer(ENGINE_STAGES)
        self._quat = Quat()
        self.scene: Scene | None = None
        self._notice: HoldNotice | None = None
        self._scene_frame = SceneFrame(0.0, 0, [], self.core.frame.head, False,
                                       self.core.intact, self.core.phantom, 0.0, self.core.frame)
        try:
            self.set_scene(scene or FreeMirror())
        except Exception:                  # a scene that cannot start leaves nothing behind
            self.world.remove_node()
            raise

    @property
    def held(self) -> bool:
        """True while the limbs hold and the scene waits (paused, or headset focus lost)."""
        return self.paused or self.focus_lost

    def set_scene(self, scene: Scene, seed: int | None = None) -> None:
        """End the current scene (if any) and start ``scene`` at the next frame, its
        context seeded with ``seed`` (None: the current :attr:`scene_seed`, e.g. a scene
        restarted for a new limb keeps its block's seed)."""
        if self.scene is not None:
            self.scene.teardown()
        self.inputs.clear()
        self.scene = scene
        if seed is not None:
            self.scene_seed = seed
        scene.set_time(self._scene_frame.t)
        scene.setup(SceneContext(self.world.attach_new_node(f"scene-{scene.name}"), self.core,
                                 self.events, self.settings, self.intact_rig,
                                 self.phantom_rig, self.display.base, self.scene_seed))

    def show_notice(self, text: str, progress: float | None = None) -> None:
        """A short notice in front of the patient's eyes, whatever the scene (the menu
        hold's ring with ``progress`` 0..1, a dose warning without)."""
        if self._notice is None:
            self._notice = HoldNotice(self.display.base.camera)
        self._notice.show(text, progress)

    def hide_notice(self) -> None:
        """Take the notice away."""
        if self._notice is not None:
            self._notice.hide()

    # -- the patient: limb, skin, calibration (therapist controls) -------------------------
    def _build_limbs(self, core: CorePipeline) -> tuple[LimbRig, LimbRig, SeatedLimbs]:
        """The intact and phantom rigs and the resting limbs for ``core`` and the current
        settings; on failure nothing built is left in the scene."""
        height, look, skin = self.settings.patient.height_m, self._look, self._skin
        built: list[LimbRig] = []
        try:
            shape = self.settings.limb_shape           # one shape for every limb shown
            built.append(LimbRig(self.world, core.limb, core.intact_side, height, skin, look,
                                 shape=shape))
            blend, root, axis = stump_blend(core, height, self.settings.display.phantom_alpha)
            built.append(LimbRig(self.world, core.limb, core.amputated, height, skin, look,
                                 blend, root, axis, shape=shape))
            seated = SeatedLimbs(self.world, core, height, skin, look, shape)
            for rig in (*built, *seated.rigs):
                self.room.body.dress(rig)         # a sleeve / shorts leg over each top end
        except Exception:
            for rig in built:
                rig.remove()
            raise
        return built[0], built[1], seated

    def _rigs(self) -> tuple[LimbRig, ...]:
        return (self.intact_rig, self.phantom_rig, *self.seated.rigs)

    def check_patient(self, side: str | None = None, level: str | None = None,
                      height_m: float | None = None) -> PatientSettings:
        """The patient settings after the change, every value checked against the settings'
        own choices and ranges; a one-line :class:`~vrgmi.errors.SettingsError` if one is
        wrong, :class:`EngineError` if none is given. Changes nothing."""
        given = {key: value for key, value in (("side", side), ("level", level),
                                               ("height_m", height_m)) if value is not None}
        if not given:
            raise EngineError("set_patient: give side, level or height_m")
        checked = load_settings(None, {f"patient.{PATIENT_KEYS[k]}": v
                                       for k, v in given.items()}).patient
        return dataclasses.replace(self.settings.patient, **{
            PATIENT_KEYS[k]: getattr(checked, PATIENT_KEYS[k]) for k in given})

    def set_patient(self, side: str | None = None, level: str | None = None,
                    height_m: float | None = None,
                    scene: Scene | None = None) -> dict[str, tuple[str | float, str | float]]:
        """Change the missing limb's side, the amputation level or the height: rebuild the
        core, both rigs, the stump blend and the resting limbs, keeping the display, the
        room, the pose source (and the torso calibration while the height stays).

        The scene running now was built for the old limb: it is torn down, and ``scene`` is
        set up in its place (without one no scene runs until :meth:`set_scene`). Returns
        ``{"side" | "level" | "height_m": (old, new)}`` for what changed. A bad value is a
        one-line error and changes nothing.
        """
        patient = self.check_patient(side, level, height_m)
        old = self.settings.patient
        changes = {k: (getattr(old, f), getattr(patient, f)) for k, f in PATIENT_KEYS.items()
                   if getattr(old, f) != getattr(patient, f)}
        old_settings, old_core = self.settings, self.core
        self.settings = dataclasses.replace(old_settings, patient=patient)
        try:
            core = CorePipeline(self.settings, old_core.source)
            limbs = self._build_limbs(core)
        except Exception as exc:
            self.settings = old_settings
            message = str(exc).strip().splitlines()
            raise EngineError(f"set_patient: cannot build the new limb: "
                              f"{message[0] if message else type(exc).__name__}") from None
        core.frame, core.filter = old_core.frame, old_core.filter   # the latest tracking
        if patient.height_m == old.height_m:
            core.torso = old_core.torso           # keep the calibration and the torso's yaw
        self._cancel_calibration("calibration cancelled: the patient's limb changed; "
                                 "calibrate again")
        if self.scene is not None:
            self.scene.teardown()
            self.scene = None
        for rig in self._rigs():
            rig.remove()
        self.core = core
        self.intact_rig, self.phantom_rig, self.seated = limbs
        self.room.set_focus("upper" if core.limb == "arm" else "lower")
        sf = self._scene_frame
        self._scene_frame = SceneFrame(sf.t, sf.index, [], core.frame.head, False, core.intact,
                                       core.phantom, 0.0, core.frame)
        if scene is not None:
            self.set_scene(scene)
        return changes

    def set_skin_tone(self, tone: str) -> tuple[float, float, float]:
        """Re-colour every limb (intact, phantom, resting) in ``tone`` (a Fitzpatrick type
        I-VI, a plain name, a palette name or #rrggbb; a one-line error otherwise).
        Returns the tone's linear RGB."""
        if not isinstance(tone, str):
            raise EngineError(f"skin_tone: {tone!r} must be text, e.g. 'IV' or '#8d5524'")
        rgb = skin_tone(tone)
        self._look = dataclasses.replace(self._look, tone=rgb)
        srgb = linear_to_srgb(rgb)
        for rig in self._rigs():
            if self._skin is not None:
                set_skin_look(rig.character, self._look)
            else:                                 # software renderer: the flat tone
                rig.character.set_color(float(srgb[0]), float(srgb[1]), float(srgb[2]), 1.0, 1)
        self.settings = dataclasses.replace(
            self.settings, patient=dataclasses.replace(self.settings.patient,
                                                       skin_tone=tone.strip()))
        return rgb

    def set_limb_shape(self, **changes: float) -> dict[str, tuple[float, float]]:
        """Change the patient's limb shape (``[limb_shape]`` keys: build, muscle, sex,
        age_years, hand_size, foot_size), each value checked against the settings' range (a
        one-line :class:`~vrgmi.errors.SettingsError`), and give it to every limb shown
        (intact, phantom, resting) through :meth:`LimbRig.set_shape`. Returns the changed
        keys' (old, new) values."""
        unknown = sorted(set(changes) - set(SHAPE_KEYS))
        if unknown or not changes:
            raise EngineError(f"limb_shape: give {', '.join(SHAPE_KEYS)}"
                              + (f" (not {', '.join(map(str, unknown))})" if unknown else ""))
        checked = load_settings(None, {f"limb_shape.{k}": v for k, v in changes.items()})
        old = self.settings.limb_shape
        shape = dataclasses.replace(old, **{k: getattr(checked.limb_shape, k) for k in changes})
        for rig in self._rigs():
            rig.set_shape(shape)
        self.settings = dataclasses.replace(self.settings, limb_shape=shape)
        return {k: (getattr(old, k), getattr(shape, k)) for k in changes
                if getattr(old, k) != getattr(shape, k)}

    @property
    def calibrating(self) -> bool:
        """True while a torso calibration is recording frames."""
        return self._calibrating is not None

    def calibrate(self, posture: str | None = None, seconds: float = CALIBRATION_S,
                  on_done: Callable[[Calibration], None] | None = None) -> str:
        """Start the seated torso calibration (:meth:`TorsoTracker.calibrate`) over the
        next ``seconds`` of tracked frames (frames while held do not count); returns what
        to ask the patient. ``posture`` defaults to arms hanging for arm sessions and hands
        on the knees for leg sessions. When done (or it fails: the head moved, a controller
        is implausible), :attr:`calibration` holds the outcome and ``on_done`` gets it."""
        posture = posture or CALIBRATION_POSTURES[self.core.limb]
        if posture not in CALIBRATION_POSTURES.values():
            raise EngineError(f"calibrate: posture {posture!r} is not "
                              f"{' or '.join(CALIBRATION_POSTURES.values())}")
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not 0.2 <= seconds <= 5.0:
            raise EngineError(f"calibrate: seconds = {seconds!r} must be 0.2..5")
        self._cancel_calibration("calibration restarted")
        n = max(10, round(seconds * self.settings.display.refresh_hz))
        self._calibrating = _Recording(posture, n, on_done)
        pose = ("arms hanging relaxed" if posture == "arms_down"
                else "hands resting on the knees")
        return (f"calibrating: the patient sits upright, {pose}, looking ahead, still for "
                f"{seconds:g} s")

    def _record_calibration_frame(self) -> None:
        rec = self._calibrating
        rec.frames[rec.count].copy_from(self.core.frame)
        rec.count += 1
        if rec.count < len(rec.frames):
            return
        self._calibrating = None
        torso = self.core.torso
        try:
            torso.calibrate(rec.frames, rec.posture)
        except VrgmiError as exc:
            self._finish_calibration(rec, Calibration(False, rec.posture,
                                                      f"calibration failed: {exc}"))
            return
        shoulders = float(np.linalg.norm(torso.shoulder(1) - torso.shoulder(0)))
        hips = float(np.linalg.norm(torso.hip(1) - torso.hip(0)))
        yaw = float(np.degrees(torso.yaw))
        self._finish_calibration(rec, Calibration(
            True, rec.posture, f"calibrated: shoulders {shoulders:.2f} m apart, hips "
            f"{hips:.2f} m, facing {yaw:+.0f} deg", round(shoulders, 4), round(hips, 4),
            round(yaw, 2)))

    def _finish_calibration(self, rec: _Recording, result: Calibration) -> None:
        self.calibration = result
        if rec.on_done is not None:
            rec.on_done(result)

    def _cancel_calibration(self, why: str) -> None:
        rec, self._calibrating = self._calibrating, None
        if rec is not None:
            self._finish_calibration(rec, Calibration(False, rec.posture, why))

    def frame(self, display_time: float, dt: float, render: bool = True) -> bool:
        """One frame at ``display_time``; False once the pose source has ended."""
        timer, core = self.timer, self.core
        timer.begin_frame()
        alive = True
        held = self.held
        if not held:
            alive = core.step(display_time, dt)
            if self._calibrating is not None:
                self._record_calibration_frame()
        timer.mark(0)
        self.intact_rig.apply(core.intact.positions, core.intact.rotations,
                              core.phantom_visibility)
        self.phantom_rig.apply(core.phantom.positions, core.phantom.rotations,
                               core.phantom_visibility)
        self.seated.apply()
        self._place_camera()
        timer.mark(1)
        if not held and self.scene is not None:
            sf = self._scene_frame
            sf.t, sf.index = display_time, self.frame_index
            sf.inputs = self.inputs.drain(display_time)
            sf.head_valid = core.frame.head_valid
            sf.phantom_visibility = core.phantom_visibility
            self.scene.step(sf, dt)
        self.frame_index += 1
        timer.mark(2)
        if render:
            self.display.base.graphicsEngine.render_frame()
        # Panda3D caches every transform and render state it makes (each joint's new pose,
        # each frame); ShowBase frees the unused ones in its task loop, which only the desktop
        # window's frame source steps: without this the cache grows by ~66 KB a frame
        TransformState.garbage_collect()
        RenderState.garbage_collect()
        timer.mark(3)
        timer.end_frame()
        return alive

    def _place_camera(self) -> None:
        """First-person view: the camera is the head, nothing else moves it."""
        head = self.core.frame.head
        if not self.core.frame.head_valid:
            return
        cam = self.display.base.camera
        cam.set_pos(float(head[0]), float(head[1]), float(head[2]))
        self._quat.set(head[6], head[3], head[4], head[5])
        cam.set_quat(self._quat)

    def screenshot(self, path: Path, therapist: bool = False) -> Path:
        """Render the current frame from the patient's eyes (or the therapist's view)."""
        cam = self.display.base.camera
        if therapist:
            saved = cam.get_transform()
            cam.set_pos(*THERAPIST_EYE)
            cam.look_at(*THERAPIST_LOOK)
            try:
                core = self.core                      # the body around the limbs
                with self.room.body.in_view(core.torso, core.frame.head, core.frame.head_valid):
                    return save_png(grab_rgba(self.display.base), path)
            finally:
                cam.set_transform(saved)
        return save_png(grab_rgba(self.display.base), path)

    def close(self) -> None:
        """End the scene, remove the session's nodes (the display stays open)."""
        if self.scene is not None:
            self.scene.teardown()
            self.scene = None
        if self._notice is not None:
            self._notice.root.remove_node()
            self._notice = None
        self.world.remove_node()


def timing_report(engine: Engine) -> dict:
    """Per-stage median / p99 / max in ms for the engine and the core inside it."""
    return {"engine": engine.timer.summary(), "core": engine.core.timer.summary()}


def scripted_source(settings: Settings, motion: str | None = None) -> ScriptedSource:
    """The patient's intact limb played by a scripted motion (``motion``, else the setting
    ``tracking.scripted_motion``, else the limb's own: a reach for an arm, foot taps for a
    leg) at the display rate."""
    p = settings.patient
    motion = motion or settings.tracking.scripted_motion or (
        "reach" if get_level(p.amputation_level).limb == "arm" else "foot_tap")
    return ScriptedSource(motion, intact_side=SIDES[1 - SIDES.index(p.amputation_side)],
                          rate_hz=settings.display.refresh_hz, height_m=p.height_m)


def local_pose_source(settings: Settings, display: Display) -> PoseSource:
    """The pose source without a headset, as ``tracking.source`` says: ``auto`` is the
    mouse-driven intact hand in a desktop window, else the scripted motion; ``desktop``,
    ``scripted`` and ``replay`` (``tracking.replay_path``, looped) are those sources;
    ``openxr`` needs a headset, so here it is a one-line error."""
    source = settings.tracking.source
    if source == "openxr":
        raise EngineError("tracking.source = openxr needs a headset (an OpenXR runtime); "
                          "none answered")
    if source == "replay":
        from vrgmi.tracking.replay import ReplaySource

        if not settings.tracking.replay_path:
            raise EngineError("tracking.source = replay needs tracking.replay_path")
        return ReplaySource(settings.tracking.replay_path, loop=True)
    if source == "desktop" and display.mode is not DisplayMode.DESKTOP:
        raise EngineError("tracking.source = desktop needs a desktop window (display.mode)")
    if source in ("auto", "desktop") and display.mode is DisplayMode.DESKTOP:
        from vrgmi.tracking.desktop import DesktopSource

        p = settings.patient
        return DesktopSource(display.base, intact_side=SIDES[1 - SIDES.index(p.amputation_side)],
                             height_m=p.height_m)
    return scripted_source(settings)


def run_demo(settings: Settings, frames: int, out_dir: Path, motion: str | None = None,
             progress: Callable[[str], None] | None = None, shots: int = 3) -> dict:
    """Play a scripted session through "free mirror" offscreen; write its outputs.

    Writes ``patient_<k>.png`` and ``therapist_<k>.png`` at ``shots`` moments,
    ``recording.npz`` (the session in the replay format), ``timing.json``, and returns the
    report (also ``report.json``)."""
    from vrgmi.tracking.record import Recorder

    if not 1 <= frames <= 1_000_000:
        raise VrgmiError(f"demo: --frames {frames} must be 1..1000000")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _m: None)
    warmup(progress)
    p = settings.patient
    rate = settings.display.refresh_hz
    source = scripted_source(settings, motion)
    motion = source.motion
    display = open_display(settings.display.mode if settings.display.mode != "xr" else "auto",
                           size=(settings.display.width, settings.display.height))
    written = []
    try:
        engine = Engine(settings, source, display)
        say(f"demo: {frames} frames of '{motion}' ({p.amputation_side} {p.amputation_level}) "
            f"on the {display.mode.value} display")
        capture = {int(frames * (k + 1) / (shots + 1)) for k in range(shots)} | {frames - 1}

        def after(loop: FrameLoop, _frame: FrameTime) -> None:
            i = loop.frames - 1
            if i in capture:
                k = len(written) // 2
                written.append(engine.screenshot(out_dir / f"patient_{k}.png"))
                written.append(engine.screenshot(out_dir / f"therapist_{k}.png", True))
            if i and i % 200 == 0:
                say(f"demo: frame {i}/{frames}")

        with Recorder(out_dir / "recording.npz") as recorder:
            t0 = time.perf_counter()
            run_frames(OffscreenFrames(rate, max_frames=frames, draw=True), engine,
                       recorder=recorder, on_frame=after)
            wall = time.perf_counter() - t0
        report = {"frames": frames, "motion": motion, "side": p.amputation_side,
                  "level": p.amputation_level, "display": display.mode.value,
                  "shaders": display.shaders, "wall_s": round(wall, 3),
                  "screenshots": [str(w) for w in written], "timing_ms": timing_report(engine)}
        engine.close()
    finally:
        display.close()
    write_text(out_dir / "report.json", json.dumps(report, indent=2), "demo")
    return report


def format_report(report: dict) -> str:
    """The demo report as a few readable lines."""
    lines = [f"demo: {report['frames']} frames of '{report['motion']}', "
             f"{report['side']} {report['level']}, {report['display']} display "
             f"({'shaders on' if report['shaders'] else 'shaders off'}), {report['wall_s']} s",
             f"{'stage':<12}{'median ms':>10}{'p99 ms':>10}"]
    for name, v in report["timing_ms"]["engine"].items():
        lines.append(f"{name:<12}{v['median']:>10.3f}{v['p99']:>10.3f}")
    lines += [f"wrote {s}" for s in report["screenshots"]]
    return "\n".join(lines)
