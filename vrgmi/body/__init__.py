"""The body model: amputation levels, anthropometry, hand FK, torso frame, mirroring."""
from __future__ import annotations

import numpy as np

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.hand import (
    LEFT_REST_WRIST_QUAT, REST_WRIST_QUAT, WRIST_IN_GRIP, grip_from_wrist, hand_joints_from_curl,
    hand_joints_kernel, wrist_from_grip, wrist_in_grip,
)
from vrgmi.body.levels import LEVELS, AmputationLevel, ResidualLayout, get_level
from vrgmi.body.mirror import (
    keep_clear_kernel, mirror_hand_inputs, mirror_hand_joints, mirror_points, mirror_pose,
    mirror_poses, mirror_rotations,
)
from vrgmi.body.skeleton import (
    ARM_JOINT_NAMES, LEG_JOINT_NAMES, BodyModelError, rest_foot_positions, rest_hand_positions,
    side_index,
)
from vrgmi.body.torso import CalibrationError, TorsoTracker
from vrgmi.body.view import view_angle_kernel
from vrgmi.tracking.frame import TrackingFrame

__all__ = [
    "ARM_JOINT_NAMES", "LEG_JOINT_NAMES", "LEFT_REST_WRIST_QUAT", "LEVELS", "REST_WRIST_QUAT",
    "WRIST_IN_GRIP", "AmputationLevel", "BodyModelError", "CalibrationError", "ResidualLayout",
    "SegmentLengths", "TorsoTracker", "get_level", "grip_from_wrist", "hand_joints_from_curl",
    "hand_joints_kernel", "keep_clear_kernel", "mirror_hand_inputs", "mirror_hand_joints",
    "mirror_points", "mirror_pose", "mirror_poses", "mirror_rotations", "rest_foot_positions",
    "rest_hand_positions", "side_index", "view_angle_kernel", "warmup", "wrist_from_grip",
    "wrist_in_grip",
]


def warmup() -> None:
    """Compile (or load from the cache) every per-frame body kernel."""
    frame = TrackingFrame()
    frame.head[:3] = (0.0, 0.0, 1.2)
    frame.head_valid = True
    torso = TorsoTracker(SegmentLengths.from_height(1.75))
    torso.update(frame, 1.0 / 90.0)
    torso.check_turn(frame.grip[1, :3], True, 1.0 / 90.0)
    joints = np.zeros((26, 7))
    wrist = wrist_from_grip(frame.grip[1], 1, np.zeros(7))
    grip_from_wrist(wrist, 1, np.zeros(7))
    hand_joints_from_curl(wrist, 0.19, np.zeros(5), joints, 0.0)
    mirror_hand_joints(joints, torso.pose, joints)
    mirror_points(joints[:, :3].copy(), torso.pose, np.zeros((26, 3)))
    mirror_rotations(joints[:, 3:].copy(), torso.pose, np.zeros((26, 4)))
    mirror_hand_inputs(frame, 1, torso.pose, frame)
    keep_clear_kernel(joints[:, :3].copy(), torso.pose, -1.0, 0.06, np.zeros(7))
    view_angle_kernel(frame.head, joints[0, :3].copy())
