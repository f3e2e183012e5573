"""The engine loop: core (poll -> filters -> torso -> IK -> mirror) -> rigs -> scene -> render.

``Engine`` owns one patient's session on an open display. ``run_demo`` plays a scripted
session headless and writes screenshots (patient and therapist views), the recording, the
joint dump and a timing report; ``run_desktop`` opens the desktop window with the mouse-driven
intact hand. ``vrgmi run`` picks headset > desktop > headless demo.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from panda3d.core import PerspectiveLens, Quat

from vrgmi.body import get_level
from vrgmi.core import CorePipeline, warmup
from vrgmi.errors import VrgmiError
from vrgmi.render.display import Display, grab_rgba, open_display, save_png
from vrgmi.render.environment import build_clinic_room
from vrgmi.render.rig import MODEL_HEIGHT, LimbRig
from vrgmi.render.shaders import ROOM, SKIN, load_shader
from vrgmi.render.skin import SkinLook, StumpBlend, skin_tone
from vrgmi.events import EventBus
from vrgmi.input import InputQueue
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.free_mirror import FreeMirror
from vrgmi.settings import Settings
from vrgmi.spatial import quat_from_axis_angle, quat_mul, quat_rotate
from vrgmi.timing import StageTimer
from vrgmi.tracking.frame import SIDES, PoseSource

ENGINE_STAGES = ("core", "rig", "scene", "render")
#: the therapist's third-person view: in front of the patient, to the side, looking back
THERAPIST_EYE = (1.1, 1.5, 1.45)
THERAPIST_LOOK = (0.0, 0.25, 0.75)
#: desktop keys -> patient input actions (vrgmi.input.ACTIONS)
DESKTOP_KEYS = {"arrow_left": "left", "arrow_right": "right", "arrow_up": "up",
                "arrow_down": "down", "enter": "select", "backspace": "back", "space": "mark",
                "m": "menu", "p": "pause"}
#: vertical field of view of the first-person view (headsets show about 90-100 deg)
PATIENT_VFOV_DEG = 90.0


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
    """The limbs the session does not mirror, resting as a seated patient's would (legs bent
    at the knee, feet on the floor; or hands on the thighs), so the body looks whole."""

    def __init__(self, parent, core: CorePipeline, height_m: float, shader,
                 look: SkinLook) -> None:
        from vrgmi.ik.solver import ArmSolver, LegSolver

        L = core.lengths
        self.core = core
        self.limb = "leg" if core.limb == "arm" else "arm"
        make = ((lambda: LegSolver(L.thigh, L.shank, L.foot, L.ankle_height))
                if self.limb == "leg" else (lambda: ArmSolver(L.upper_arm, L.forearm, L.hand)))
        self.solvers = (make(), make())
        self.rigs = tuple(LimbRig(parent, self.limb, side, height_m, shader, look)
                          for side in (0, 1))

    def apply(self) -> None:
        """Re-pose both resting limbs in the current torso frame."""
        torso = self.core.torso
        yaw = torso.pose[3:]
        fwd = quat_rotate(yaw, _FORWARD)
        L = self.core.lengths
        for side, (solver, rig) in enumerate(zip(self.solvers, self.rigs)):
            solver.torso[:] = torso.pose
            if self.limb == "leg":
                root = torso.hip(side)
                solver.root[:] = root
                solver.target[:3] = root + 0.97 * L.thigh * fwd
                solver.target[2] = L.ankle_height
                solver.target[3:] = yaw
            else:
                root = torso.shoulder(side)
                solver.root[:] = root
                solver.target[:3] = root + 0.9 * L.upper_arm * fwd
                solver.target[2] = torso.hip(side)[2] + 0.11 * L.thigh / 0.43  # on the thigh
                solver.target[3:] = quat_mul(yaw, _PALM_DOWN[side])
            solver.solve(side)
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
        base = display.base
        self.core = CorePipeline(settings, source)
        gsg = display.win.get_gsg()
        skin = load_shader(*SKIN, gsg=gsg) if display.shaders else None
        room = load_shader(*ROOM, gsg=gsg) if display.shaders else None
        self.world = base.render.attach_new_node("vrgmi_world")
        self.room = build_clinic_room(self.world, room)
        self.room.set_focus("upper" if self.core.limb == "arm" else "lower")
        height = settings.patient.height_m
        look = SkinLook(tone=skin_tone(settings.patient.skin_tone))
        self.intact_rig = LimbRig(self.world, self.core.limb, self.core.intact_side, height,
                                  skin, look)
        blend, root, axis = stump_blend(self.core, height, settings.display.phantom_alpha)
        self.phantom_rig = LimbRig(self.world, self.core.limb, self.core.amputated, height,
                                   skin, look, blend, root, axis)
        self.seated = SeatedLimbs(self.world, self.core, height, skin, look)
        lens = PerspectiveLens()
        aspect = display.win.get_x_size() / display.win.get_y_size()
        v = np.radians(PATIENT_VFOV_DEG)
        lens.set_fov(float(np.degrees(2 * np.arctan(np.tan(v / 2) * aspect))), PATIENT_VFOV_DEG)
        lens.set_near_far(0.03, 30.0)
        base.cam.node().set_lens(lens)
        self.timer = StageTimer(ENGINE_STAGES)
        self._quat = Quat()
        self.scene: Scene | None = None
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

    def set_scene(self, scene: Scene) -> None:
        """End the current scene (if any) and start ``scene`` at the next frame."""
        if self.scene is not None:
            self.scene.teardown()
        self.inputs.clear()
        self.scene = scene
        scene._t = self._scene_frame.t
        scene.setup(SceneContext(self.world.attach_new_node(f"scene-{scene.name}"), self.core,
                                 self.events, self.settings, self.intact_rig,
                                 self.phantom_rig, self.display.base))

    def frame(self, display_time: float, dt: float, render: bool = True) -> bool:
        """One frame at ``display_time``; False once the pose source has ended."""
        timer, core = self.timer, self.core
        timer.begin_frame()
        alive = True
        held = self.held
        if not held:
            alive = core.step(display_time, dt)
        timer.mark(0)
        self.intact_rig.apply(core.intact.positions, core.intact.rotations,
                              core.phantom_visibility)
        self.phantom_rig.apply(core.phantom.positions, core.phantom.rotations,
                               core.phantom_visibility)
        self.seated.apply()
        self._place_camera()
        timer.mark(1)
        if not held:
            sf = self._scene_frame
            sf.t, sf.index = display_time, self.frame_index
            sf.inputs = self.inputs.drain(display_time)
            sf.head_valid = core.frame.head_valid
            sf.phantom_visibility = core.phantom_visibility
            self.scene._begin_frame(sf)
            self.scene.update(sf, dt)
        self.frame_index += 1
        timer.mark(2)
        if render:
            self.display.base.graphicsEngine.render_frame()
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
                return save_png(grab_rgba(self.display.base), path)
            finally:
                cam.set_transform(saved)
        return save_png(grab_rgba(self.display.base), path)

    def close(self) -> None:
        """End the scene, remove the session's nodes (the display stays open)."""
        if self.scene is not None:
            self.scene.teardown()
            self.scene = None
        self.world.remove_node()


def timing_report(engine: Engine) -> dict:
    """Per-stage median / p99 / max in ms for the engine and the core inside it."""
    return {"engine": engine.timer.summary(), "core": engine.core.timer.summary()}


def run_demo(settings: Settings, frames: int, out_dir: Path, motion: str | None = None,
             progress: Callable[[str], None] | None = None, shots: int = 3) -> dict:
    """Play a scripted session through "free mirror" offscreen; write its outputs.

    Writes ``patient_<k>.png`` and ``therapist_<k>.png`` at ``shots`` moments,
    ``recording.npz`` (the session in the replay format), ``timing.json``, and returns the
    report (also ``report.json``)."""
    from vrgmi.tracking.record import Recorder
    from vrgmi.tracking.scripted import ScriptedSource

    if not 1 <= frames <= 1_000_000:
        raise VrgmiError(f"demo: --frames {frames} must be 1..1000000")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _m: None)
    warmup(progress)
    p = settings.patient
    motion = motion or ("reach" if get_level(p.amputation_level).limb == "arm" else "foot_tap")
    rate = settings.display.refresh_hz
    intact = SIDES[1 - SIDES.index(p.amputation_side)]
    source = ScriptedSource(motion, intact_side=intact, rate_hz=rate, height_m=p.height_m)
    display = open_display(settings.display.mode if settings.display.mode != "xr" else "auto",
                           size=(settings.display.width, settings.display.height))
    written = []
    try:
        engine = Engine(settings, source, display)
        say(f"demo: {frames} frames of '{motion}' ({p.amputation_side} {p.amputation_level}) "
            f"on the {display.mode.value} display")
        capture = {int(frames * (k + 1) / (shots + 1)) for k in range(shots)} | {frames - 1}
        with Recorder(out_dir / "recording.npz") as recorder:
            t0 = time.perf_counter()
            for i in range(frames):
                engine.frame(i / rate, 1.0 / rate)
                recorder.append(engine.core.frame)
                if i in capture:
                    k = len(written) // 2
                    written.append(engine.screenshot(out_dir / f"patient_{k}.png"))
                    written.append(engine.screenshot(out_dir / f"therapist_{k}.png", True))
                if i and i % 200 == 0:
                    say(f"demo: frame {i}/{frames}")
            wall = time.perf_counter() - t0
        report = {"frames": frames, "motion": motion, "side": p.amputation_side,
                  "level": p.amputation_level, "display": display.mode.value,
                  "shaders": display.shaders, "wall_s": round(wall, 3),
                  "screenshots": [str(w) for w in written], "timing_ms": timing_report(engine)}
        engine.close()
    finally:
        display.close()
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
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


def run_desktop(settings: Settings, seconds: float | None = None,
                progress: Callable[[str], None] | None = None) -> None:
    """The desktop window: the mouse moves the intact hand (wheel: nearer / farther, left
    button: trigger, right button: squeeze); Escape quits."""
    from vrgmi.tracking.desktop import DesktopSource

    warmup(progress)
    p = settings.patient
    display = open_display("desktop", size=(settings.display.width, settings.display.height))
    base = display.base
    intact = SIDES[1 - SIDES.index(p.amputation_side)]
    engine = Engine(settings, DesktopSource(base, intact_side=intact, height_m=p.height_m),
                    display)
    clock = time.perf_counter
    start = last = clock()

    def tick(task):
        nonlocal last
        now = clock()
        engine.frame(now - start, max(now - last, 1e-4), render=False)
        last = now
        if seconds is not None and now - start >= seconds:
            base.taskMgr.stop()
        return task.cont

    base.accept("escape", base.taskMgr.stop)
    for key, action in DESKTOP_KEYS.items():
        base.accept(key, lambda a=action: engine.inputs.push(a, clock() - start, "keyboard"))
    base.taskMgr.add(tick, "vrgmi-engine-frame", sort=-50)
    if progress:
        progress("vrgmi: desktop window open; move the mouse to move the intact hand, "
                 "Escape quits")
    try:
        base.run()
    finally:
        engine.close()
        display.close()
