"""What the mirror-therapy scenes share: the task scene skeleton, soft glowing targets, the
instruction panel. The task logic itself lives in :mod:`vrgmi.mirror` (no Panda3D there).

Targets are flat-shaded translucent spheres (in the air) or discs (on the floor) with a soft
halo, in calm colours: teal for the target to reach now, soft amber for the ones after it;
a reached target gives a short gentle pulse and fades.
"""
from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
from panda3d.core import (Geom, GeomNode, GeomVertexData, GeomVertexFormat, GeomVertexWriter,
                          NodePath, TransparencyAttrib)

from vrgmi.i18n import N_, _
from vrgmi.mirror.lower import foot_home
from vrgmi.mirror.trial import TrialTask
from vrgmi.mirror.watch import WatchMeter
from vrgmi.render.color import hex_for_framebuffer
from vrgmi.render.mesh import triangles_node
from vrgmi.render.ui import LookCue, Panel, place_facing_patient
from vrgmi.scenes.base import Scene, SceneContext, SceneFrame
from vrgmi.scenes.schema import SceneParamError
from vrgmi.settings import Settings

TEAL = "#5fc2b5"
AMBER = "#e9bd72"
SOFT_WHITE = "#f2efe6"
#: the instruction panel: metres in front of the eyes, and below eye level per limb (the
#: patient looks down at the table for arm tasks, further down at the floor for leg tasks)
PANEL_DISTANCE_M = 1.4
PANEL_DROP_M = {"arm": 0.0, "leg": 0.3}
#: the instruction screen of every mirror task: this, then the task's own instruction
MIRROR_INSTRUCTIONS = N_("Mirror therapy\n\nMove your own limb slowly and watch its mirror "
                         "image where your missing limb would be: it moves as your missing "
                         "limb. Keep your eyes on the mirrored limb.")
PRACTICE_NOTE = N_("The first try is for practice.")
LOOK_AT = {("left", "arm"): N_("Look at your left hand"),
           ("right", "arm"): N_("Look at your right hand"),
           ("left", "leg"): N_("Look at your left foot"),
           ("right", "leg"): N_("Look at your right foot")}
#: seconds of the success pulse
PULSE_S = 0.6
#: floor markers lie on the exercise mat (top 12 mm, vrgmi/render/environment.py) + 2 mm
FLOOR_Z_M = 0.014
#: the halo around a target: this fraction of its radius wider, at most HALO_MAX_M, so
#: a target close to the eyes does not swell into a large blob
HALO_FRACTION = 0.35
HALO_MAX_M = 0.025

#: the keys every mirror scene's ``trial`` events carry (plus each task's own)
COMMON_TRIAL_FIELDS: dict[str, str] = {
    "index": "trial number in the scene, from 0",
    "task": "task name",
    "target_ids": "ids of the trial's targets (trial.target)",
    "success": "the trial was completed within its limits",
    "time_s": "seconds from trial onset to completion (or to the time limit)",
    "path_length_m": "distance travelled by the phantom end effector (m)",
    "movement_time_s": "movement start to end, 5 % of peak speed extrapolated to 0 (s)",
    "movement_onset_s": "reaction: seconds from onset to movement onset",
    "peak_speed_mps": "peak end-effector speed (m/s)",
    "smoothness_sparc": "spectral arc length of the speed (Balasubramanian 2015; 0 = smooth)",
    "smoothness_ldlj": "log dimensionless jerk (Hogan & Sternad 2009; higher = smoother)",
    "symmetry": "bilateral symmetry correlation -1..1, null where not measurable",
    "symmetry_detail": "correlation, amplitude ratio, RMS difference, lag; or null",
    "watch_share": "share of the trial's time the phantom hand / foot was within "
                   "mirror.watch_angle_deg of the view's centre; null: no head pose",
    "outcome": "how the trial ended",
}


def display_rgba(base: Any, code: str, alpha: float) -> tuple[float, float, float, float]:
    """A ``#rrggbb`` colour for unshaded geometry: linear where the framebuffer encodes
    sRGB itself, else as given."""
    linear = base is not None and base.win.get_fb_properties().get_srgb_color()
    return (*hex_for_framebuffer(code, linear), alpha)


def mesh_node(name: str, vertices: np.ndarray, shades: np.ndarray,
              triangles: np.ndarray) -> GeomNode:
    """A static mesh with grey vertex shades (tinted by a colour scale)."""
    vdata = GeomVertexData(name, GeomVertexFormat.get_v3c4(), Geom.UH_static)
    vdata.set_num_rows(len(vertices))
    writer = GeomVertexWriter(vdata, "vertex")
    colour = GeomVertexWriter(vdata, "color")
    for v, g in zip(vertices, shades):
        writer.add_data3(float(v[0]), float(v[1]), float(v[2]))
        colour.add_data4(float(g), float(g), float(g), 1.0)
    return triangles_node(name, vdata, triangles)


def sphere_node(name: str, rings: int = 12, segments: int = 20) -> GeomNode:
    """A unit UV sphere."""
    verts = [(0.0, 0.0, 1.0)]
    for i in range(1, rings):
        th = math.pi * i / rings
        for j in range(segments):
            ph = 2.0 * math.pi * j / segments
            verts.append((math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph),
                          math.cos(th)))
    verts.append((0.0, 0.0, -1.0))
    tris = []
    last = len(verts) - 1
    for j in range(segments):
        k = (j + 1) % segments
        tris.append((0, 1 + j, 1 + k))
        base = 1 + (rings - 2) * segments
        tris.append((last, base + k, base + j))
    for i in range(rings - 2):
        r0, r1 = 1 + i * segments, 1 + (i + 1) * segments
        for j in range(segments):
            k = (j + 1) % segments
            tris += [(r0 + j, r1 + j, r1 + k), (r0 + j, r1 + k, r0 + k)]
    verts = np.array(verts)
    # soft top light: lighter on top, a little darker underneath
    return mesh_node(name, verts, 0.80 + 0.20 * verts[:, 2], np.array(tris))


def disc_node(name: str, segments: int = 40, thickness: float = 0.05) -> GeomNode:
    """A unit-radius flat cylinder (height ``thickness``) standing on z = 0."""
    verts = [(0.0, 0.0, thickness), (0.0, 0.0, 0.0)]
    for j in range(segments):
        a = 2.0 * math.pi * j / segments
        verts += [(math.cos(a), math.sin(a), thickness), (math.cos(a), math.sin(a), 0.0)]
    tris = []
    for j in range(segments):
        k = (j + 1) % segments
        t0, b0, t1, b1 = 2 + 2 * j, 3 + 2 * j, 2 + 2 * k, 3 + 2 * k
        tris += [(0, t0, t1), (1, b1, b0), (t0, b0, b1), (t0, b1, t1)]
    verts = np.array(verts)
    # the top a little lighter toward the rim's far side reads as a shallow dish
    return mesh_node(name, verts, np.where(verts[:, 2] > 0.0, 1.0, 0.8), np.array(tris))


def seated_legs(core: Any, out: np.ndarray) -> np.ndarray:
    """Fill ``out`` (4, 2, 3) with the thigh and shank segments (hip-knee, knee-ankle) of
    the phantom and the intact leg as solved now: what hides the floor from the seated
    eye (:func:`vrgmi.mirror.lower.in_view`)."""
    for k, limb in enumerate((core.phantom, core.intact)):
        out[2 * k] = limb.positions[0:2]
        out[2 * k + 1] = limb.positions[1:3]
    return out


def resting_foot_view(core: Any, legs: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Where the missing foot rests (:func:`vrgmi.mirror.lower.foot_home`), the eye (None
    while the head is not tracked) and the seated legs (``legs`` (4, 2, 3) filled by
    :func:`seated_legs`): what floor placements are drawn from and checked against."""
    side, L = core.amputated, core.lengths
    home = foot_home(core.torso.hip(side), core.torso.pose, L.thigh, L.foot)
    eye = core.frame.head[:3] if core.frame.head_valid else None
    return home, eye, seated_legs(core, legs)


def box_node(name: str) -> GeomNode:
    """A box x, y in -1..1 standing on z = 0..1, its top lighter than its sides."""
    corners = np.array([(x, y, z) for z in (0.0, 1.0) for y in (-1.0, 1.0)
                        for x in (-1.0, 1.0)])
    faces = ((4, 5, 7, 6), (0, 2, 3, 1), (0, 1, 5, 4), (2, 6, 7, 3), (0, 4, 6, 2),
             (1, 3, 7, 5))
    verts, shades, tris = [], [], []
    for k, face in enumerate(faces):
        start = len(verts)
        verts += [corners[i] for i in face]
        shades += [1.0 if k == 0 else 0.75 if k == 1 else 0.85] * 4
        tris += [(start, start + 1, start + 2), (start, start + 2, start + 3)]
    return mesh_node(name, np.array(verts), np.array(shades), np.array(tris))


class TargetMarker:
    """A soft glowing target (sphere or floor disc) with a halo and a success pulse."""

    def __init__(self, parent: NodePath, base: Any, radius: float, floor: bool = False,
                 name: str = "target") -> None:
        self.root = parent.attach_new_node(name)
        self.root.set_light_off(1)
        self.root.set_shader_off(1)
        self.root.set_transparency(TransparencyAttrib.M_alpha)
        self.root.set_bin("transparent", 10)
        self.root.set_depth_write(False)
        self.base = base
        self.floor = floor
        make = (lambda n: disc_node(n, thickness=0.012)) if floor else sphere_node
        self.core = self.root.attach_new_node(make(name + "-core"))
        self.halo = self.root.attach_new_node(make(name + "-halo"))
        self.set_radius(radius)
        self.halo.set_two_sided(True)
        self.state = ""
        self._pulse_from = math.nan
        self.set_state("waiting")

    def set_radius(self, radius: float) -> None:
        """Resize the target."""
        self.radius = radius
        self.core.set_scale(radius, radius, 1.0 if self.floor else radius)
        halo = radius + min(HALO_FRACTION * radius, HALO_MAX_M)
        self.halo.set_scale(halo, halo, 0.6 if self.floor else halo)

    def place(self, position: np.ndarray) -> None:
        """Move the target's centre to ``position`` (3,)."""
        self.root.set_pos(float(position[0]), float(position[1]),
                          max(float(position[2]), FLOOR_Z_M) if self.floor
                          else float(position[2]))

    def set_state(self, state: str, t: float = 0.0) -> None:
        """``current`` (teal), ``waiting`` (soft amber), ``done`` (pulse, then hidden),
        ``hidden``."""
        if state == self.state:
            return
        self.state = state
        if state == "hidden":
            self.root.hide()
            return
        self.root.show()
        colour, alpha = {"current": (TEAL, 0.8), "waiting": (AMBER, 0.5),
                         "done": (SOFT_WHITE, 0.8)}[state]
        self.core.set_color_scale(display_rgba(self.base, colour, alpha))
        self.halo.set_color(display_rgba(self.base, colour, alpha * 0.3), 1)
        self._pulse_from = t if state == "done" else math.nan

    def animate(self, t: float) -> None:
        """Per frame: a slow breathing glow on the current target, the success pulse."""
        if self.state == "current":
            self.halo.set_alpha_scale(0.7 + 0.3 * math.sin(2.0 * math.pi * 0.8 * t))
        elif self.state == "done" and self._pulse_from == self._pulse_from:
            k = (t - self._pulse_from) / PULSE_S
            if k >= 1.0:
                self.set_state("hidden")
                return
            self.root.set_scale(1.0 + 0.4 * k)
            self.root.set_alpha_scale(1.0 - k)
        if self.state != "done":
            self.root.set_scale(1.0)
            self.root.set_alpha_scale(1.0)

    def remove(self) -> None:
        """Take the target out of the scene."""
        self.root.remove_node()


class MirrorTaskScene(Scene):
    """A mirror-therapy scene around one :class:`TrialTask`: builds the task in ``setup``,
    steps it every frame, emits its results as ``trial`` events and shows a panel. A
    :class:`WatchMeter` adds each trial's ``watch_share`` and, at teardown, the block's
    (``block_finished``); with ``mirror.look_cue_s`` set, a gentle head-locked cue asks the
    patient to look at the phantom after that long looking away.

    Subclasses implement :meth:`make_task`, :meth:`step_task` (feed the task from the
    frame, return its result or None) and may override :meth:`build` and :meth:`draw`."""

    phase = "mirror"
    emits = ("trial", "block_finished")
    trial_fields: ClassVar[dict[str, str]] = COMMON_TRIAL_FIELDS
    instruction: ClassVar[str] = ""

    def instruction_text(self) -> str:
        """The mirror-therapy instructions, then this task's (translated)."""
        parts = [_(MIRROR_INSTRUCTIONS)] + ([_(self.instruction)] if self.instruction else [])
        if self._practice:
            parts.append(_(PRACTICE_NOTE))
        return "\n\n".join(parts)

    def setup(self, ctx: SceneContext) -> None:
        settings = ctx.settings if ctx.settings is not None else Settings()
        #: practice trials left: their results are emitted (``practice``: true, block -1)
        #: and then taken off the task, so they count for nothing
        self._practice = settings.practice.mirror_trials
        super().setup(ctx)
        core = ctx.core
        if core.limb not in self.limbs:
            raise SceneParamError(f"{self.name} is a {' / '.join(self.limbs)} task; this "
                                  f"patient's missing limb is a {core.limb}")
        rate = ctx.settings.display.refresh_hz if ctx.settings is not None else 90.0
        self.rng = np.random.default_rng(ctx.seed)
        self._effector = np.zeros(3)
        self.watch = WatchMeter(ctx.settings.mirror.look_cue_s if ctx.settings is not None
                                else 0.0)
        self.look_cue: LookCue | None = None
        self.task: TrialTask = self.make_task(ctx, float(rate))
        self.configure()
        self.panel: Panel | None = None
        self._panel_placed = False
        self.last_success = False
        self._text = ""
        self.feedback = ""
        self._feedback_until = -math.inf
        if ctx.root is not None:
            self.build(ctx)

    @abstractmethod
    def make_task(self, ctx: SceneContext, rate_hz: float) -> TrialTask:
        """The task for this run, from the difficulty values in force."""

    @abstractmethod
    def step_task(self, frame: SceneFrame) -> dict[str, Any] | None:
        """Feed the task one frame; its result when a trial ended."""

    def build(self, ctx: SceneContext) -> None:
        """Build the scene's objects (the panel; subclasses add targets)."""
        self.panel = Panel(ctx.root, (0.0, PANEL_DISTANCE_M, 1.2), distance_m=PANEL_DISTANCE_M,
                           min_line_deg=1.6, name=f"{self.name}-panel")
        if ctx.base is not None and self.watch.cue_after_s > 0.0:
            core = ctx.core
            side = "left" if core.amputated == 0 else "right"
            self.look_cue = LookCue(ctx.base.camera, _(LOOK_AT[(side, core.limb)]))

    def update(self, frame: SceneFrame, dt: float) -> None:
        """Step the task, record a finished trial, redraw."""
        if self.finished:
            return
        core = self.ctx.core
        self.watch.update(dt, core.phantom_view_deg, core.phantom_in_view, self.task.active)
        result = self.step_task(frame)
        if result is not None:
            result["watch_share"] = self.watch.end_trial()
            if self._practice > 0:
                self._practice -= 1
                self.task.results.pop()       # a practice trial counts for nothing
                result = dict(result, practice=True, block=-1)
            self.emit("trial", result)
            self.last_success = bool(result["success"])
            self.feedback = _("Well done") if result["success"] else _("Time is up - let's go on")
            if result.get("practice"):
                self.feedback += "\n" + _("That was practice. Now the counted tries begin.")
            self._feedback_until = frame.t + (3.0 if result.get("practice") else 1.5)
        if self.task.finished:
            self.finished = True
        if self.ctx is not None and self.ctx.root is not None:
            if self.panel is not None and not self._panel_placed and frame.head_valid:
                # world-locked in front of the torso, placed once the head is known
                drop = PANEL_DROP_M[self.ctx.core.limb]
                place_facing_patient(self.panel.root, frame.head, self.ctx.core.torso.yaw,
                                     PANEL_DISTANCE_M, drop)
                self._panel_placed = True
            self.draw(frame)
            if self.look_cue is not None:
                self.look_cue.update(self.watch.cue_due, dt)
            text = self.panel_text(frame)
            if self.panel is not None and text != self._text:
                self.panel.set_text(text)
                self._text = text

    def draw(self, frame: SceneFrame) -> None:
        """Update the scene's objects for this frame (subclasses)."""

    def configure(self) -> None:
        """Copy the difficulty values in force into the task (after setup and after each
        therapist change; target placement reads them at each trial's start). Here the
        ``time_limit_s`` and ``trials`` every mirror task has; subclasses add their own."""
        d, task = self.difficulty, self.task
        task.time_limit_s = d["time_limit_s"]
        task.trials = max(d["trials"], len(task.results))

    def set_param(self, name: str, value: Any, by: str = "therapist") -> None:
        super().set_param(name, value, by)
        if getattr(self, "task", None) is not None:
            self.configure()

    def task_line(self, frame: SceneFrame) -> str | None:
        """What to do now, shown instead of the instruction while a trial runs (past the
        last trial's feedback); None keeps the instruction. Subclasses."""
        return None

    def panel_text(self, frame: SceneFrame) -> str:
        """The instruction (or :meth:`task_line` during a trial), the progress, and
        feedback after a trial."""
        task = self.task
        if task.finished:
            s = task.summary()
            return _("All done: {done} of {total} completed.\nWell done.").format(
                done=s["successes"], total=s["trials"])
        line = self.task_line(frame) if task.active and frame.t >= self._feedback_until \
            else None
        lines = [line or _(self.instruction)]
        if frame.t < self._feedback_until:
            lines.append(self.feedback)
        elif not task.active:
            lines.append(_("Relax..."))
        lines.append(_("Practice") if self._practice > 0 else
                     _("Trial {n} of {total}").format(n=task.index + 1, total=task.trials))
        return "\n".join(lines)

    def effector(self, frame: SceneFrame, joint: int) -> np.ndarray:
        """The phantom joint's position, or NaN while the intact limb is not tracked (a
        preallocated array, refilled each call)."""
        if frame.phantom_visibility > 0.0:
            self._effector[:] = frame.phantom.positions[joint]
        else:
            self._effector[:] = np.nan
        return self._effector

    def summary(self) -> dict[str, Any]:
        task = getattr(self, "task", None)
        if task is None:
            return {}
        return {**task.summary(), "watch_share": self.watch.block_share}

    def teardown(self) -> None:
        """Record the block's watch share (``block_finished``), remove the cue, end."""
        if self.ctx is not None and getattr(self, "task", None) is not None:
            self.emit("block_finished", {"block": 0, **self.task.summary(),
                                         **self.watch.block_figures()})
        if getattr(self, "look_cue", None) is not None:
            self.look_cue.remove()
            self.look_cue = None
        super().teardown()


def draw_sequence(markers: list[TargetMarker], task: Any, t: float, success: bool) -> None:
    """Show a :class:`vrgmi.mirror.reach.ReachTask`'s targets: reached ones pulse and fade,
    the current one glows teal, the later ones wait in amber; after a trial the remaining
    ones pulse (success) or disappear (timeout)."""
    n = len(task.targets) if task.active else 0
    for k, marker in enumerate(markers):
        if k < n:
            if k < task.current:
                marker.set_state("done", t)
            else:
                marker.place(task.targets[k])
                marker.set_state("current" if k == task.current else "waiting")
        elif marker.state in ("current", "waiting"):
            marker.set_state("done" if success else "hidden", t)
        marker.animate(t)


class TargetTaskScene(MirrorTaskScene):
    """A mirror scene around a :class:`vrgmi.mirror.reach.ReachTask` (or a subclass):
    targets of ``target_radius_m`` held for ``dwell_s``, shown by the ``markers`` a
    subclass's ``build`` makes with :meth:`build_markers`, drawn by :func:`draw_sequence`."""

    def configure(self) -> None:
        super().configure()
        d, task = self.difficulty, self.task
        task.radius_m = d["target_radius_m"]
        task.dwell.hold_s = d["dwell_s"]
        for marker in getattr(self, "markers", ()):
            marker.set_radius(task.radius_m)

    def build_markers(self, ctx: SceneContext, names: list[str],
                      floor: bool = False) -> list[TargetMarker]:
        """One hidden :class:`TargetMarker` per name, sized to the task's radius."""
        markers = [TargetMarker(ctx.root, ctx.base, self.task.radius_m, floor=floor, name=n)
                   for n in names]
        for m in markers:
            m.set_state("hidden")
        return markers

    def draw(self, frame: SceneFrame) -> None:
        draw_sequence(self.markers, self.task, frame.t, self.last_success)
