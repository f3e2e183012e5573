"""ArmSolver and LegSolver: preallocated inputs and outputs around one Numba kernel call.

Usage per frame (nothing allocates)::

    arm.torso[:] = torso_pose; arm.root[:] = shoulder; arm.target[:] = wrist_pose
    arm.curls[:] = ...  or  arm.hand_joints[:] = tracked (26, 7), hand_tracked=True
    err = arm.solve(side, swivel=float("nan"), fixed=1)
    arm.positions (28, 3), arm.rotations (28, 4), arm.angles (27,), arm.swivel

All poses are world engine space; ``rotations`` are world delta rotations from the rest
pose. ``fixed = k`` keeps joints 0..k-1 as given: the root joint from ``root``, joints 1..k-1
from ``fixed_positions``, and the bones of joints 0..k-2 from ``fixed_rotations``.
"""
from __future__ import annotations

import math

import numpy as np

from vrgmi.body.skeleton import ARM_JOINT_NAMES, LEG_JOINT_NAMES
from vrgmi.errors import VrgmiError
from vrgmi.ik import kernels as K
from vrgmi.ik.limits import (ARM_DOF_NAMES, ARM_LIMITS, HIP_SINUS, LEG_DOF_NAMES, LEG_LIMITS,
                             SHOULDER_SINUS, sinus_boundary)
from vrgmi.tracking.frame import HAND_JOINT_COUNT


class IKInputError(VrgmiError, ValueError):
    """An IK input is wrong (a length out of range, a NaN pose, an unknown side ...)."""


_STATUS = {
    K.BAD_INPUT: "IK input: the torso, root or target pose has a NaN or infinite value",
    K.BAD_TORSO: "IK input: the torso orientation is not a unit quaternion",
    K.BAD_TARGET: "IK input: the target orientation is not a unit quaternion",
    K.BAD_HAND: "IK input: a tracked hand joint position is NaN or infinite",
    K.BAD_FIXED: "IK input: a fixed joint position or rotation is NaN, infinite or not unit",
}

#: joint angles (deg) of a closed fist (curl = 1): thumb CMC flexion, CMC abduction, MCP,
#: IP; fingers MCP flexion, MCP abduction, PIP, DIP. All inside the limits.
FIST_DEG = np.array([[5.0, 0.0, 40.0, 60.0]] + [[85.0, 0.0, 95.0, 60.0]] * 4)
#: joint angles (deg) of the open hand a controller shows (curl = 0): the fingers straight,
#: the thumb relaxed beside the index, its tip 2.4 cm palmar of the knuckles' plane (about
#: the palm's skin; the model's rest thumb ray hangs 6.4 cm palmar), pad toward the index;
#: the same order, inside the limits and the thumb's CMC cone
OPEN_DEG = np.array([[-10.0, -20.0, 0.0, 5.0]] + [[0.0, 0.0, 0.0, 0.0]] * 4)
#: toe flexion (deg) at toe curl 1
TOE_CURL_DEG = 35.0
#: ARM_JOINT_NAMES index of each XR hand joint (HAND_JOINT_NAMES order)
HAND_FROM_ARM = np.array([3, 2] + list(range(4, 28)))


def _length(name: str, value: float, lo: float, hi: float) -> float:
    value = float(value)
    if not lo <= value <= hi:
        raise IKInputError(f"{name} {value!r} m is outside {lo}..{hi}")
    return value


class LimbSolver:
    """Shared inputs/outputs of a limb solver; use :class:`ArmSolver` or :class:`LegSolver`."""

    joint_names: tuple[str, ...] = ()
    dof_names: tuple[str, ...] = ()

    def __init__(self, geometry: np.ndarray, limits: np.ndarray, sinus: np.ndarray) -> None:
        j, d = len(self.joint_names), len(self.dof_names)
        self.geometry = geometry
        self.limits = limits
        self.sinus = sinus
        self._bound = sinus_boundary(sinus)
        self._inp = np.zeros(K.INPUT_SIZE)
        self._inp[K.I_TORSO + 6] = self._inp[K.I_TARGET + 6] = 1.0
        #: torso pose (7,): origin anywhere, x right, y forward, z up
        self.torso = self._inp[K.I_TORSO:K.I_TORSO + 7]
        #: root joint (shoulder / hip) position (3,)
        self.root = self._inp[K.I_ROOT:K.I_ROOT + 3]
        #: target wrist / ankle pose (7,): position + world delta rotation of the hand / foot
        self.target = self._inp[K.I_TARGET:K.I_TARGET + 7]
        self.fixed_positions = np.zeros((j, 3))
        self.fixed_rotations = np.zeros((j, 4))
        self.fixed_rotations[:, 3] = 1.0
        self.positions = np.zeros((j, 3))
        self.rotations = np.zeros((j, 4))
        self.rotations[:, 3] = 1.0
        self.angles = np.zeros(d)
        self._info = np.zeros(2)
        self._state = np.zeros((2, 2))
        self.reset()

    @property
    def inputs(self) -> np.ndarray:
        """The kernels' packed input vector (torso, root and target are views into it)."""
        return self._inp

    def reset(self) -> None:
        """Start a new session: forget the per-side swivel state kept between frames. Call it
        before solving poses that are not consecutive frames of one motion."""
        self._state[:, 0] = K.MODE_FRESH
        self._state[:, 1] = 0.0

    @property
    def error(self) -> float:
        """Distance (m) of the solved wrist / ankle from the target."""
        return float(self._info[0])

    @property
    def swivel(self) -> float:
        """Swivel (rad) of the solved elbow / knee, in the canonical right-limb frame: pass it
        to the mirrored limb's solve to give it the same elbow / knee placement."""
        return float(self._info[1])

    @property
    def exact_reach(self) -> float:
        """Root-to-end distance (m) up to which a target in limits is reached exactly;
        beyond it the soft reach zone keeps the limb from snapping straight."""
        g = self.geometry
        return float(g[K.G_L1] + g[K.G_L2] - g[K.G_SOFT])

    def swivel_of(self, mid: np.ndarray, end: np.ndarray, side: int) -> float:
        """Swivel (rad) of a world pose whose middle joint (elbow / knee) is at ``mid`` and
        end joint (wrist / ankle) at ``end``, rooted at ``root`` (NaN if the limb is straight)."""
        self._check(side, 1)
        return K.pose_swivel(self._inp, int(side), np.asarray(mid, dtype=np.float64),
                             np.asarray(end, dtype=np.float64), self.geometry)

    @staticmethod
    def _check(side: int, fixed: int) -> None:
        if side != 0 and side != 1:
            raise IKInputError(f"IK side {side!r} is not 0 (left) or 1 (right)")
        if fixed not in (1, 2, 3, 4):
            raise IKInputError(f"IK fixed joint count {fixed!r} is not 1, 2, 3 or 4")

    def _status(self, st: int) -> float:
        if st:
            raise IKInputError(_STATUS[st])
        return float(self._info[0])

    def _angles_in(self, angles: np.ndarray) -> np.ndarray:
        a = np.asarray(angles, dtype=np.float64)
        if a.shape != self.angles.shape or not np.all(np.isfinite(a)):
            raise IKInputError(f"IK angles must be {len(self.dof_names)} finite radians")
        return a


class ArmSolver(LimbSolver):
    """Shoulder -> elbow -> wrist two-bone IK with a five-finger hand."""

    joint_names = ARM_JOINT_NAMES
    dof_names = ARM_DOF_NAMES

    def __init__(self, upper_arm: float, forearm: float, hand_length: float) -> None:
        geometry = K.arm_geometry(_length("upper arm", upper_arm, 0.15, 0.50),
                                  _length("forearm", forearm, 0.12, 0.45),
                                  _length("hand length", hand_length, 0.10, 0.30),
                                  ARM_LIMITS, FIST_DEG, OPEN_DEG)
        super().__init__(geometry, ARM_LIMITS.copy(), SHOULDER_SINUS.copy())
        #: tracked hand joints (26, 7), world, already mirrored to this side
        self.hand_joints = np.zeros((HAND_JOINT_COUNT, 7))
        self.hand_joints[:, 6] = 1.0
        #: finger curls 0..1 (thumb, index, middle, ring, little) when no hand is tracked
        self.curls = np.zeros(5)

    def set_curls(self, trigger: float, squeeze: float | None = None) -> None:
        """Trigger curls the index, squeeze the other three and the thumb; one value alone
        curls all five."""
        squeeze = trigger if squeeze is None else squeeze
        self.curls[0] = self.curls[2] = self.curls[3] = self.curls[4] = squeeze
        self.curls[1] = trigger

    def solve(self, side: int, swivel: float = math.nan, fixed: int = 1,
              hand_tracked: bool = False) -> float:
        """Solve toward ``target``; returns the wrist's distance (m) from the target."""
        self._check(side, fixed)
        st = K.solve_arm(self._inp, self.hand_joints, bool(hand_tracked), self.curls,
                         self.fixed_positions, self.fixed_rotations, self.geometry,
                         self.limits, self.sinus, self._bound, self._state, int(side),
                         float(swivel), int(fixed), self.positions, self.rotations, self.angles,
                         self._info)
        return self._status(st)

    def forward(self, angles: np.ndarray, side: int) -> None:
        """Pose the arm from joint angles (forward kinematics) into positions/rotations;
        uses ``torso`` and ``root``."""
        self._check(side, 1)
        K.arm_forward(self._inp, self._angles_in(angles), self.geometry, int(side),
                      self.positions, self.rotations)


class LegSolver(LimbSolver):
    """Hip -> knee -> ankle two-bone IK with a foot and toes."""

    joint_names = LEG_JOINT_NAMES
    dof_names = LEG_DOF_NAMES

    def __init__(self, thigh: float, shank: float, foot_length: float,
                 ankle_height: float) -> None:
        geometry = K.leg_geometry(_length("thigh", thigh, 0.25, 0.65),
                                  _length("shank", shank, 0.25, 0.65),
                                  _length("foot length", foot_length, 0.15, 0.40),
                                  _length("ankle height", ankle_height, 0.03, 0.15),
                                  LEG_LIMITS, TOE_CURL_DEG)
        super().__init__(geometry, LEG_LIMITS.copy(), HIP_SINUS.copy())
        #: toe curl 0..1 (1,)
        self.toe_curl = np.zeros(1)

    def solve(self, side: int, swivel: float = math.nan, fixed: int = 1) -> float:
        """Solve toward ``target``; returns the ankle's distance (m) from the target."""
        self._check(side, fixed)
        st = K.solve_leg(self._inp, self.toe_curl, self.fixed_positions, self.fixed_rotations,
                         self.geometry, self.limits, self.sinus, self._bound, self._state,
                         int(side), float(swivel), int(fixed), self.positions, self.rotations,
                         self.angles, self._info)
        return self._status(st)

    def forward(self, angles: np.ndarray, side: int) -> None:
        """Pose the leg from joint angles (forward kinematics); uses ``torso`` and ``root``."""
        self._check(side, 1)
        K.leg_forward(self._inp, self._angles_in(angles), self.geometry, int(side),
                      self.positions, self.rotations)


def warmup() -> None:
    """Compile (or load from the cache) every IK kernel; call before the first frame."""
    arm = ArmSolver(0.30, 0.25, 0.19)
    arm.root[:] = (0.18, 0.0, 1.4)
    arm.target[:] = (0.25, 0.3, 1.1, 0.0, 0.0, 0.0, 1.0)
    arm.solve(1)
    arm.solve(0, fixed=2)
    arm.forward(arm.angles, 1)
    arm.swivel_of(arm.positions[1], arm.positions[2], 1)
    arm.hand_joints[:, :3] = arm.positions[HAND_FROM_ARM]
    arm.solve(1, hand_tracked=True)
    leg = LegSolver(0.45, 0.43, 0.26, 0.08)
    leg.root[:] = (0.1, 0.0, 0.9)
    leg.target[:] = (0.1, 0.4, 0.1, 0.0, 0.0, 0.0, 1.0)
    leg.solve(1)
    leg.forward(leg.angles, 0)
    leg.swivel_of(leg.positions[1], leg.positions[2], 0)
