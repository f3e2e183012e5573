"""TrackingFrame (one frame of tracked input, engine space) and the PoseSource interface.

A frame is preallocated once and refilled in place every frame: sources write into it,
filters read and write it, nothing on the hot path allocates.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

LEFT, RIGHT = 0, 1
SIDES = ("left", "right")

#: XR_EXT_hand_tracking joint order (XrHandJointEXT), 26 joints.
HAND_JOINT_NAMES = (
    "palm", "wrist",
    "thumb_metacarpal", "thumb_proximal", "thumb_distal", "thumb_tip",
    "index_metacarpal", "index_proximal", "index_intermediate", "index_distal", "index_tip",
    "middle_metacarpal", "middle_proximal", "middle_intermediate", "middle_distal", "middle_tip",
    "ring_metacarpal", "ring_proximal", "ring_intermediate", "ring_distal", "ring_tip",
    "little_metacarpal", "little_proximal", "little_intermediate", "little_distal", "little_tip",
)
HAND_JOINT_COUNT = 26

#: XR_HTCX_vive_tracker_interaction role paths (/user/vive_tracker_htcx/role/<role>).
TRACKER_ROLES = (
    "handheld_object", "left_foot", "right_foot", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_knee", "right_knee", "left_wrist", "right_wrist",
    "left_ankle", "right_ankle", "waist", "chest", "camera", "keyboard",
)
TRACKER_INDEX = {role: i for i, role in enumerate(TRACKER_ROLES)}


class TrackingFrame:
    """All tracked input for one display time, in engine space (see vrgmi.spatial).

    Index 0 of every per-side array is the left side, 1 the right side.
    """

    __slots__ = (
        "t", "head", "head_valid", "grip", "grip_valid", "aim", "aim_valid",
        "trigger", "squeeze", "hand_joints", "hand_valid", "tracker", "tracker_valid",
    )

    def __init__(self) -> None:
        self.t = 0.0
        self.head = np.zeros(7)
        self.head[6] = 1.0
        self.head_valid = False
        self.grip = np.zeros((2, 7))
        self.grip[:, 6] = 1.0
        self.grip_valid = np.zeros(2, dtype=np.bool_)
        self.aim = np.zeros((2, 7))
        self.aim[:, 6] = 1.0
        self.aim_valid = np.zeros(2, dtype=np.bool_)
        self.trigger = np.zeros(2)
        self.squeeze = np.zeros(2)
        self.hand_joints = np.zeros((2, HAND_JOINT_COUNT, 7))
        self.hand_joints[:, :, 6] = 1.0
        self.hand_valid = np.zeros(2, dtype=np.bool_)
        self.tracker = np.zeros((len(TRACKER_ROLES), 7))
        self.tracker[:, 6] = 1.0
        self.tracker_valid = np.zeros(len(TRACKER_ROLES), dtype=np.bool_)

    def copy_from(self, other: "TrackingFrame") -> None:
        """Copy every field of ``other`` into this frame, in place."""
        self.t = other.t
        self.head[:] = other.head
        self.head_valid = other.head_valid
        for name in ("grip", "grip_valid", "aim", "aim_valid", "trigger", "squeeze",
                     "hand_joints", "hand_valid", "tracker", "tracker_valid"):
            getattr(self, name)[...] = getattr(other, name)


class PoseSource(ABC):
    """Something that fills a TrackingFrame for a predicted display time."""

    #: short name used by the CLI and the records ("replay", "scripted:reach", "openxr" ...)
    name: str = "source"

    @abstractmethod
    def poll(self, display_time: float, frame: TrackingFrame) -> bool:
        """Fill ``frame`` in place with poses for ``display_time`` (seconds).

        Returns False once the source has ended (a replay past its last sample).
        Must not allocate on the hot path.
        """

    @property
    def duration(self) -> float | None:
        """Length in seconds for finite sources, None for live ones."""
        return None

    def haptic_pulse(self, side: int, seconds: float, amplitude: float) -> bool:
        """A vibration of ``seconds`` at ``amplitude`` (0..1) on the controller of ``side``
        (0 left, 1 right); False where the source has no haptic output."""
        return False

    def close(self) -> None:
        """Release devices or files. Safe to call twice."""
