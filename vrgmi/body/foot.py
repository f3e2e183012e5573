"""Where a foot tracker sits on the foot, and the ankle pose it implies.

A tracker strapped on the instep (XR_HTCX role ``<side>_foot``) sits on the foot's long axis
``INSTEP_FRACTION`` foot lengths in front of the ankle joint, at ankle height; its orientation
is the foot's world delta rotation from the rest pose (calibration removes any strap tilt).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vrgmi.spatial import qrot_t

#: instep tracker position in front of the ankle, as a fraction of foot length
INSTEP_FRACTION = 0.28


@njit(cache=True)
def _offset_kernel(pose, forward, out):
    ox, oy, oz = qrot_t(pose[3], pose[4], pose[5], pose[6], 0.0, forward, 0.0)
    out[0] = pose[0] + ox
    out[1] = pose[1] + oy
    out[2] = pose[2] + oz
    out[3:7] = pose[3:7]


def ankle_from_foot_tracker(tracker_pose: np.ndarray, foot_length: float,
                            out: np.ndarray) -> np.ndarray:
    """Ankle pose (7,) (position + foot delta rotation) from an instep tracker pose."""
    _offset_kernel(tracker_pose, -INSTEP_FRACTION * foot_length, out)
    return out


def foot_tracker_from_ankle(ankle_pose: np.ndarray, foot_length: float,
                            out: np.ndarray) -> np.ndarray:
    """Inverse of :func:`ankle_from_foot_tracker`: where the instep tracker is."""
    _offset_kernel(ankle_pose, INSTEP_FRACTION * foot_length, out)
    return out
