"""Copy the pose: a target arm pose is shown, the mirrored arm matches it and holds it.

A pose in :data:`POSES` is a wrist target in the torso frame, relative to the shoulder, in
fractions of the arm length (upper arm + forearm), for a RIGHT arm (x lateral, y forward,
z up), with the hand's rotation from the rest pose and the finger curls. :func:`solve_pose`
turns it into the limb pose the engine's own IK gives for that wrist on the phantom's side,
so the target joint angles are ones the mirrored arm can reach exactly. The match is scored
by :func:`vrgmi.measures.movement.joint_angle_error` over the pose's compared joints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from vrgmi.ik.limits import ARM_DOF_NAMES
from vrgmi.ik.solver import ArmSolver
from vrgmi.measures.movement import joint_angle_error
from vrgmi.mirror.trial import HoldTimer, MirrorTaskError, TrialTask, check_range
from vrgmi.spatial import quat_from_axis_angle, quat_mul

_X, _Y, _Z = np.eye(3)


def _q(*turns: tuple[np.ndarray, float]) -> np.ndarray:
    """Product of axis-angle rotations (degrees), the first applied last."""
    out = np.array([0.0, 0.0, 0.0, 1.0])
    for axis, deg in turns:
        out = quat_mul(out, quat_from_axis_angle(axis, math.radians(deg)))
    return out


#: hand rotations from rest (arm hanging, palm medial, thumb forward), right arm
_FORWARD_PALM_DOWN = _q((_Y, -90.0), (_X, 80.0))
_FORWARD_PALM_MEDIAL = _q((_X, 90.0))

#: arm joints always compared (shoulder 3, elbow, forearm, wrist 2)
ARM_DOFS = tuple(range(7))
#: finger flexion joints, compared for poses with a hand posture
FINGER_FLEXION_DOFS = tuple(i for i, n in enumerate(ARM_DOF_NAMES)
                            if n.split("_")[0] in ("thumb", "index", "middle", "ring", "little")
                            and n.endswith("flexion"))
#: below this target shoulder elevation the shoulder plane is ill defined (arm near
#: vertical), so it is left out of the comparison
PLANE_MIN_ELEVATION_DEG = 25.0


@dataclass(frozen=True)
class Pose:
    """A target pose of a RIGHT arm (mirrored for a left one)."""

    name: str
    label: str                       # what the patient is told
    wrist: tuple[float, float, float]    # wrist from the shoulder, fractions of arm length
    hand: tuple[float, float, float, float]   # hand rotation from rest (x, y, z, w)
    curls: tuple[float, float, float, float, float] = (0.0,) * 5
    hand_posture: bool = False       # compare the fingers too

    @property
    def quat(self) -> np.ndarray:
        return np.array(self.hand)


def _pose(name, label, wrist, hand, curls=(0.0,) * 5, hand_posture=False) -> Pose:
    return Pose(name, label, wrist, tuple(float(v) for v in hand), curls, hand_posture)


#: simple arm poses first, then functional ones with a hand posture (CLINICAL.md: progress
#: from simple to functional tasks)
POSES: dict[str, Pose] = {p.name: p for p in (
    _pose("reach_forward", "Reach forward, palm down", (0.05, 0.85, -0.12), _FORWARD_PALM_DOWN),
    _pose("elbow_bent", "Elbow bent, hand forward", (0.03, 0.44, -0.56), _FORWARD_PALM_MEDIAL),
    _pose("arm_to_side", "Arm out to the side", (0.72, 0.30, -0.42),
          _q((_Z, -70.0), (_Y, -90.0), (_X, 80.0))),
    _pose("reach_up", "Reach up and forward", (0.08, 0.60, 0.45), _q((_X, 140.0))),
    # toward the midline, not across it: the phantom keeps clear of the midline and of the
    # intact arm (docs/mirror-tasks.md, "The midline")
    _pose("reach_inward", "Reach forward toward the middle", (0.0, 0.75, -0.15),
          _q((_Z, 15.0), (_Y, -90.0), (_X, 80.0))),
    _pose("point_forward", "Point forward", (0.05, 0.85, -0.12), _FORWARD_PALM_DOWN,
          (1.0, 0.0, 1.0, 1.0, 1.0), True),
    _pose("fist_bent", "Elbow bent, make a fist", (0.03, 0.44, -0.56), _FORWARD_PALM_MEDIAL,
          (1.0, 1.0, 1.0, 1.0, 1.0), True),
    _pose("palm_up", "Elbow bent, palm up, hand open", (0.03, 0.44, -0.56),
          _q((_Y, 90.0), (_X, 90.0)), (0.0,) * 5, True),
)}
POSE_SETS: dict[str, tuple[str, ...]] = {
    "simple": ("reach_forward", "elbow_bent", "arm_to_side", "reach_up", "reach_inward"),
    "functional": ("point_forward", "fist_bent", "palm_up"),
}
POSE_SETS["all"] = POSE_SETS["simple"] + POSE_SETS["functional"]


@dataclass
class PoseTarget:
    """A pose solved for one patient: joint angles (radians), the joints compared, and the
    solved limb (positions (J, 3), rotations (J, 4)) to draw as the ghost."""

    pose: Pose
    angles: np.ndarray
    dofs: tuple[int, ...]
    positions: np.ndarray
    rotations: np.ndarray


def solve_pose(pose: Pose, solver: ArmSolver, torso_pose: np.ndarray, shoulder: np.ndarray,
               side: int, arm_length: float) -> PoseTarget:
    """The limb pose the IK gives for ``pose`` on ``side`` (0 left, 1 right) of a torso at
    ``torso_pose`` with that side's ``shoulder``; ``solver`` is used as scratch."""
    local = np.array(pose.wrist) * arm_length
    q = pose.quat
    if side == 0:                              # mirror across the sagittal plane
        local[0] = -local[0]
        q = q * np.array([1.0, -1.0, -1.0, 1.0])
    yaw = np.array([0.0, 0.0, torso_pose[5], torso_pose[6]])
    yaw /= np.linalg.norm(yaw)
    c, s = 1.0 - 2.0 * yaw[2] ** 2, 2.0 * yaw[2] * yaw[3]       # cos, sin of the yaw
    world = np.array([c * local[0] - s * local[1], s * local[0] + c * local[1], local[2]])
    solver.reset()
    solver.torso[:] = torso_pose
    solver.root[:] = shoulder
    solver.target[:3] = shoulder + world
    solver.target[3:] = quat_mul(yaw, q)
    solver.curls[:] = pose.curls
    solver.solve(side)
    angles = solver.angles.copy()
    dofs = ARM_DOFS
    if math.degrees(angles[1]) < PLANE_MIN_ELEVATION_DEG:
        dofs = dofs[1:]
    if pose.hand_posture:
        dofs = dofs + FINGER_FLEXION_DOFS
    return PoseTarget(pose, angles, dofs, solver.positions.copy(), solver.rotations.copy())


def pose_sequence(pose_set: str, trials: int, rng: np.random.Generator) -> list[Pose]:
    """``trials`` poses from ``pose_set``: shuffled rounds through the set, never the same
    pose twice in a row."""
    if pose_set not in POSE_SETS:
        raise MirrorTaskError(f"pose set {pose_set!r} is not one of {', '.join(POSE_SETS)}")
    names = POSE_SETS[pose_set]
    out: list[str] = []
    while len(out) < trials:
        block = list(rng.permutation(names))
        if out and len(block) > 1 and block[0] == out[-1]:
            block[0], block[1] = block[1], block[0]
        out.extend(block)
    return [POSES[n] for n in out[:trials]]


class CopyPoseTask(TrialTask):
    """Match each trial's target pose within ``tolerance_deg`` (mean joint-angle error) and
    hold it for ``hold_s``, within ``time_limit_s``.

    ``make_target(trial_index)`` gives the :class:`PoseTarget`. Result fields: ``pose``,
    ``joint_angle_error_deg`` (mean error when the hold completed, else the best reached),
    ``joint_angle_error_max_deg``, ``joints_compared``, ``tolerance_deg``, ``hold_s``,
    ``outcome`` (``matched`` | ``timeout``)."""

    task = "copy_pose"

    def __init__(self, make_target: Callable[[int], PoseTarget], tolerance_deg: float,
                 hold_s: float, time_limit_s: float, trials: int, rest_s: float = 1.5,
                 rate_hz: float = 90.0) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.make_target = make_target
        self.tolerance_deg = check_range("tolerance_deg", tolerance_deg, 1.0, 90.0)
        self.hold = HoldTimer(check_range("hold_s", hold_s, 0.0, 10.0))
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 1.0, 120.0)
        self.target: PoseTarget | None = None
        self.error = (math.nan, math.nan)
        self._best = (math.inf, math.inf)
        self._angles = np.zeros(len(ARM_DOF_NAMES))
        self._tracked = True

    def update(self, t: float, effector: np.ndarray, angles: np.ndarray,
               tracked: bool = True) -> dict[str, Any] | None:
        """One frame: the phantom palm (for the movement trace) and its joint angles;
        ``tracked`` False (limb not tracked) never counts toward the hold."""
        self._angles[:] = angles
        self._tracked = tracked
        return self._step(t, effector)

    def _begin(self, t: float) -> None:
        self.target = self.make_target(self.index)
        self.hold.reset()
        self._best = (math.inf, math.inf)
        self.error = (math.nan, math.nan)

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        target = self.target
        self.error = joint_angle_error(self._angles, target.angles, target.dofs)
        if self._tracked and self.error[0] < self._best[0]:
            self._best = self.error
        matched = self._tracked and self.error[0] <= self.tolerance_deg
        if self.hold.update(t, matched):
            return True, self._fields(self.error, "matched")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields(self._best, "timeout")
        return None

    def _fields(self, error: tuple[float, float], outcome: str) -> dict[str, Any]:
        mean, worst = (None, None) if math.isinf(error[0]) else (round(error[0], 2),
                                                                  round(error[1], 2))
        return {"pose": self.target.pose.name, "target_ids": [self.target.pose.name],
                "joint_angle_error_deg": mean, "joint_angle_error_max_deg": worst,
                "joints_compared": [ARM_DOF_NAMES[i] for i in self.target.dofs],
                "tolerance_deg": self.tolerance_deg, "hold_s": self.hold.hold_s,
                "outcome": outcome}
