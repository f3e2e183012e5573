"""The per-frame core: poll -> filters -> torso -> intact IK -> mirror -> phantom IK.

Everything is allocated in ``CorePipeline.__init__``; ``step`` only refills buffers. Rendering,
scenes and records read ``CorePipeline.intact`` / ``.phantom`` after each step.
"""
from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vrgmi.body import (
    LEFT_REST_WRIST_QUAT, REST_WRIST_QUAT, ResidualLayout, SegmentLengths, TorsoTracker,
    get_level, keep_clear_kernel, mirror_hand_joints, mirror_pose, side_index,
    view_angle_kernel, wrist_from_grip,
)
from vrgmi.body.foot import ankle_from_foot_tracker
from vrgmi.body.shaping import PhantomShaper
from vrgmi.errors import VrgmiError
from vrgmi.ik.solver import ArmSolver, LegSolver
from vrgmi.settings import Settings
from vrgmi.study.conditions import PhantomCondition
from vrgmi.spatial import engine_to_stage_point, qmul_t, quat_conj, quat_rotate
from vrgmi.timing import StageTimer
from vrgmi.tracking.filters import FilterSettings, PoseFilter
from vrgmi.tracking.frame import SIDES, TRACKER_INDEX, PoseSource, TrackingFrame

STAGES = ("poll", "filter", "torso", "intact_ik", "mirror", "phantom_ik")
_REST_WRIST_CONJ = (quat_conj(LEFT_REST_WRIST_QUAT), quat_conj(REST_WRIST_QUAT))
_warm = False          # every kernel compiled or loaded in this process


def warmup(progress: Callable[[str], None] | None = None) -> float:
    """Compile (first run) or load from the cache every per-frame kernel; returns seconds.
    Once done in a process, later calls return at once (and say nothing)."""
    global _warm
    if _warm:
        return 0.0
    from vrgmi.body import warmup as body_warmup
    from vrgmi.body.shaping import warmup as shaping_warmup
    from vrgmi.ik.solver import warmup as ik_warmup
    from vrgmi.study.conditions import warmup as condition_warmup
    from vrgmi.tracking.filters import warmup as filter_warmup

    def phantom_warmup() -> None:
        shaping_warmup()
        condition_warmup()

    t0 = time.perf_counter()
    steps = (("tracking filters", filter_warmup), ("body model", body_warmup),
             ("inverse kinematics", ik_warmup), ("phantom shaping", phantom_warmup))
    for i, (name, fn) in enumerate(steps, 1):
        if progress:
            progress(f"preparing {name} ({i}/{len(steps)}; the first run compiles, ~1 min)")
        fn()
    _warm = True
    return time.perf_counter() - t0


def filter_settings(settings: Settings) -> FilterSettings:
    """The tracking filter configuration from the user's settings."""
    t = settings.tracking
    return FilterSettings(max_speed_mps=t.max_hand_speed_mps, hold_s=t.hold_s, fade_s=t.fade_s,
                          blend_s=t.blend_s, smoothing=t.one_euro,
                          min_cutoff=t.one_euro_min_cutoff, beta=t.one_euro_beta)


class CorePipeline:
    """One patient's mirrored-limb core, stepped once per frame.

    After :meth:`step`: ``intact`` and ``phantom`` are the two solvers (``positions`` (J, 3),
    ``rotations`` (J, 4) world delta rotations, ``angles``), ``phantom_visibility`` in 0..1
    (the intact limb's tracking visibility: held then faded on loss), ``residual_tracked``,
    ``midline_shift_m`` (how far the phantom was moved out to stay clear of the midline and
    the intact limb, ``keep_clear_kernel``), ``phantom_view_deg`` (angle of the phantom's
    end effector from the head's forward direction; NaN without a head or a visible
    phantom) and ``phantom_in_view`` (within ``mirror.watch_angle_deg``).

    ``shaper`` (:class:`vrgmi.body.shaping.PhantomShaper`) poses the phantom as the patient
    feels it (posture, telescoping) blended with the mirror image; ``condition``
    (:class:`vrgmi.study.conditions.PhantomCondition`) replaces its mirrored inputs in a
    study's control condition (docs/phantom-shaping.md, docs/study-conditions.md).
    """

    def __init__(self, settings: Settings, source: PoseSource,
                 lengths: SegmentLengths | None = None) -> None:
        p = settings.patient
        self.source = source
        self.level = get_level(p.amputation_level)
        self.limb = self.level.limb
        self.amputated = side_index(p.amputation_side)
        self.intact_side = 1 - self.amputated
        self.lengths = lengths or SegmentLengths.from_height(p.height_m)
        fraction = p.residual_fraction if p.residual_fraction > 0.0 else None
        self.layout = ResidualLayout.build(self.level, self.lengths, fraction)
        self.frame = TrackingFrame()
        self.filter = PoseFilter(filter_settings(settings))
        self.torso = TorsoTracker(self.lengths, settings.body)
        L = self.lengths
        if self.limb == "arm":
            self.intact = ArmSolver(L.upper_arm, L.forearm, L.hand)
            self.phantom = ArmSolver(L.upper_arm, L.forearm, L.hand)
        else:
            self.intact = LegSolver(L.thigh, L.shank, L.foot, L.ankle_height)
            self.phantom = LegSolver(L.thigh, L.shank, L.foot, L.ankle_height)
        self.joint_names = self.intact.joint_names
        role = self.level.residual_tracker_role(self.amputated)
        self._residual_tracker = TRACKER_INDEX[role] if role else -1
        # joints 0..k-1 are real when the residual limb is tracked (see _fix_residual)
        self._residual_fixed = self.level.stump_segment + 1 + (self.layout.stump_end_offset > 0)
        intact_name = SIDES[self.intact_side]
        self._foot_trackers = (TRACKER_INDEX[f"{intact_name}_foot"],
                               TRACKER_INDEX[f"{intact_name}_ankle"])
        self._target = self.intact.target          # the intact solve's target, in place
        self._scratch = np.zeros(7)
        mirror = settings.mirror
        self.clearance_m = mirror.midline_clearance_m
        self.watch_angle_rad = math.radians(mirror.watch_angle_deg)
        self._phantom_side = 1.0 if self.amputated == 1 else -1.0
        #: the phantom's end effector: palm centre / ball of the foot (what the tasks score)
        self.effector_index = self.joint_names.index("palm" if self.limb == "arm" else "ball")
        self._effector = self.phantom.positions[self.effector_index]    # a view, made once
        self.midline_shift_m = 0.0
        self.phantom_view_deg = math.nan
        self.phantom_in_view = False
        self.phantom_visibility = 0.0
        self.residual_tracked = False
        self.hand_tracked = False
        self.shaper = PhantomShaper(self.limb, self.amputated, self.layout,
                                    L.limb(self.limb), L.ankle_height,
                                    settings.shaping.max_telescoping)
        self.condition = PhantomCondition(self.limb)
        self.timer = StageTimer(STAGES)
        #: a decoded signal moving the phantom after its solve and shaping
        #: (vrgmi.research.drive, docs/research.md); None: it is not driven
        self.drive = None

    # -- per-frame ------------------------------------------------------------------------
    def step(self, display_time: float, dt: float) -> bool:
        """Run the core for one frame at ``display_time``; False once the source has ended."""
        timer = self.timer
        timer.begin_frame()
        alive = self.source.poll(display_time, self.frame)
        timer.mark(0)
        self.filter.apply(self.frame, dt)
        timer.mark(1)
        self.torso.update(self.frame, dt)
        timer.mark(2)
        visible = self._solve_intact()
        self.torso.check_turn(self._target[:3], visible >= 1.0, dt)
        timer.mark(3)
        torso = self.torso.pose
        mirror_pose(self._target, torso, self.phantom.target)
        self.midline_shift_m = keep_clear_kernel(self.intact.positions, torso,
                                                 self._phantom_side, self.clearance_m,
                                                 self.phantom.target)
        if self.limb == "arm":
            if self.hand_tracked:
                mirror_hand_joints(self.frame.hand_joints[self.intact_side], torso,
                                   self.phantom.hand_joints)
            else:
                self.phantom.curls[:] = self.intact.curls
        else:
            self.phantom.toe_curl[:] = self.intact.toe_curl
        self.condition.apply(self, display_time, visible)
        timer.mark(4)
        self._solve_phantom()
        self.shaper.apply(self.phantom)
        if self.drive is not None:
            self.drive.apply(self, dt)
        self.phantom_visibility = visible
        self._watch(visible)
        timer.mark(5)
        timer.end_frame()
        return alive

    def _watch(self, visible: float) -> None:
        """Is the phantom's end effector within the watched cone of the head (display-time
        pose)? NaN / False without a head or a visible phantom."""
        angle = math.nan
        if self.frame.head_valid and visible > 0.0:
            angle = view_angle_kernel(self.frame.head, self._effector)
        self.phantom_view_deg = math.degrees(angle)
        self.phantom_in_view = angle <= self.watch_angle_rad

    def _solve_intact(self) -> float:
        """Intact limb toward its own tracking; returns its visibility (0 = not tracked)."""
        frame, side, solver = self.frame, self.intact_side, self.intact
        solver.torso[:] = self.torso.pose
        target = self._target
        if self.limb == "arm":
            solver.root[:] = self.torso.shoulder(side)
            self.hand_tracked = bool(frame.hand_valid[side])
            if self.hand_tracked:
                target[:] = frame.hand_joints[side, 1]      # XR joint 1 = wrist
                solver.hand_joints[:] = frame.hand_joints[side]
            elif frame.grip_valid[side]:
                wrist_from_grip(frame.grip[side], side, target)
                solver.set_curls(frame.trigger[side], frame.squeeze[side])
            else:
                return 0.0
            r = _REST_WRIST_CONJ[side]
            target[3], target[4], target[5], target[6] = qmul_t(
                target[3], target[4], target[5], target[6], r[0], r[1], r[2], r[3])
            solver.solve(side, hand_tracked=self.hand_tracked)
            vis = self.filter.hand_visibility[side] if self.hand_tracked \
                else self.filter.grip_visibility[side]
            return float(vis)
        solver.root[:] = self.torso.hip(side)
        foot, ankle = self._foot_trackers
        if frame.tracker_valid[foot]:
            ankle_from_foot_tracker(frame.tracker[foot], self.lengths.foot, target)
            vis = self.filter.tracker_visibility[foot]
        elif frame.tracker_valid[ankle]:
            target[:] = frame.tracker[ankle]
            vis = self.filter.tracker_visibility[ankle]
        else:
            return 0.0
        solver.solve(side)
        return float(vis)

    def _solve_phantom(self) -> None:
        solver, side = self.phantom, self.amputated
        solver.torso[:] = self.torso.pose
        solver.root[:] = self.torso.shoulder(side) if self.limb == "arm" else self.torso.hip(side)
        fixed = self._fix_residual()
        condition = self.condition        # the mirror's swivel and hand, or the condition's
        kwargs = {"hand_tracked": condition.hand_tracked} if self.limb == "arm" else {}
        solver.solve(side, swivel=condition.swivel, fixed=fixed, **kwargs)

    def _fix_residual(self) -> int:
        """Pin the real residual segments to the residual limb's tracker, when it is tracked.

        The tracker's orientation is the residual segment's delta rotation; it sits at the
        stump end. Stump on the upper arm / thigh: the segment hangs from the shoulder / hip
        (k = 2). Stump on the forearm / shank: the elbow / knee is found back along the
        segment from the tracker (k = 3). Partial hand / foot: the real hand / foot is where
        the tracker says, so the target becomes the tracked wrist / ankle and only the
        fingers / toes mirror the intact side. Without a tracker the residual limb is
        estimated as the mirror of the intact one (the patient moves both symmetrically),
        and the whole chain solves from the shoulder / hip (k = 1).
        """
        r = self._residual_tracker
        self.residual_tracked = r >= 0 and bool(self.frame.tracker_valid[r])
        if not self.residual_tracked:
            return 1
        pose = self.frame.tracker[r]
        solver, seg = self.phantom, self.level.stump_segment
        lengths = self.lengths.limb(self.limb)
        if seg == 2:
            if self.limb == "arm":
                solver.target[:] = pose
            else:
                ankle_from_foot_tracker(pose, self.lengths.foot, solver.target)
            return 1
        down = self._scratch[:3]
        down[:] = (0.0, 0.0, -1.0)
        q = pose[3:]
        bone = quat_rotate(q, down)
        if seg == 0:
            solver.fixed_rotations[0] = q
            solver.fixed_positions[1] = solver.root + lengths[0] * bone
            return 2
        offset = self.layout.stump_end_offset
        elbow = pose[:3] - offset * bone
        upper = elbow - solver.root
        solver.fixed_rotations[0] = _swing_from_down(upper)
        solver.fixed_rotations[1] = q
        solver.fixed_positions[1] = elbow
        solver.fixed_positions[2] = elbow + lengths[1] * bone
        return 3


def _swing_from_down(direction: np.ndarray) -> np.ndarray:
    """Shortest rotation taking the rest bone direction (0, 0, -1) onto ``direction``."""
    n = math.sqrt(float(direction @ direction))
    if n < 1e-9:
        return np.array([0.0, 0.0, 0.0, 1.0])
    d = direction / n
    # axis = (0,0,-1) x d, cos = -d_z
    axis = np.array([d[1], -d[0], 0.0])
    w = 1.0 - d[2]
    q = np.array([axis[0], axis[1], axis[2], w])
    qn = math.sqrt(float(q @ q))
    if qn < 1e-9:                       # pointing straight up: half turn about x
        return np.array([1.0, 0.0, 0.0, 0.0])
    return q / qn


# -- runs over whole replays ----------------------------------------------------------------

#: frames the replay dump holds in memory before they go to disk
DUMP_CHUNK = 4096


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def dump_replay(replay_path: Path, dump_path: Path, settings: Settings,
                progress: Callable[[str], None] | None = None) -> int:
    """Run the core over a replay (no rendering) and write both limbs' joints per frame.

    Output ``.npz``: ``t`` (N,), ``joint_names`` (J,), ``intact`` and ``phantom`` (N, J, 3)
    joint world positions in the replay's OpenXR stage space (metres), ``phantom_visible``
    (N,) bool, ``body_yaw`` (N,) the body frame's yaw about the vertical (radians, 0 = facing
    stage -Z, positive = turned left) and ``turn_suspected`` (N,) bool, a body turn suspected
    for the therapist to confirm (docs/body-model.md). Returns N.

    The frames are streamed to disk every :data:`DUMP_CHUNK` frames (memory does not grow
    with the replay's length) and the file is written atomically: a full disk or a crash
    leaves the earlier file, or none. Dumping onto the replay itself is refused.
    """
    from vrgmi.npz_stream import NpzStream
    from vrgmi.tracking.replay import ReplaySource, load_replay

    replay_path, dump_path = Path(replay_path), Path(dump_path)
    if _same_file(replay_path, dump_path):
        raise VrgmiError(f"replay: --dump {dump_path} is the replay itself; "
                         "choose another file")
    replay = load_replay(replay_path)
    warmup(progress)
    pipeline = CorePipeline(settings, ReplaySource(replay, time_origin=float(replay.t[0])))
    n, j = len(replay.t), len(pipeline.joint_names)
    k = min(n, DUMP_CHUNK)
    intact = np.empty((k, j, 3))
    phantom = np.empty((k, j, 3))
    visible = np.zeros(k, dtype=np.bool_)
    body_yaw = np.zeros(k)
    suspected = np.zeros(k, dtype=np.bool_)
    columns = {"intact": ((j, 3), "f8"), "phantom": ((j, 3), "f8"),
               "phantom_visible": ((), "?"), "body_yaw": ((), "f8"),
               "turn_suspected": ((), "?")}
    dts = np.diff(replay.t, prepend=replay.t[0] - (replay.t[1] - replay.t[0] if n > 1 else 1 / 90))
    with NpzStream(dump_path, columns, "replay") as out:
        for i in range(n):
            r = i % k
            pipeline.step(float(replay.t[i]), float(dts[i]))
            intact[r] = pipeline.intact.positions
            phantom[r] = pipeline.phantom.positions
            visible[r] = pipeline.phantom_visibility > 0.0
            body_yaw[r] = pipeline.torso.yaw
            suspected[r] = pipeline.torso.turn_suspected
            if r == k - 1 or i == n - 1:
                m = r + 1
                out.append("intact", engine_to_stage_point(intact[:m]))
                out.append("phantom", engine_to_stage_point(phantom[:m]))
                out.append("phantom_visible", visible[:m])
                out.append("body_yaw", body_yaw[:m])
                out.append("turn_suspected", suspected[:m])
            if progress and i and i % 20000 == 0:
                progress(f"replay: {i}/{n} frames")
        out.finish({"t": replay.t, "joint_names": np.array(pipeline.joint_names)})
    return n
