"""Where the patient looks: the angle between the head's forward direction and a point.

The head pose is the one located for the frame's display time; its forward axis is local +y
(engine space: +y forward, +z up). Eyes are not tracked, so this is the head's aim: the
eyes rarely rest more than 15-20 deg off it before the head turns (docs/mirror-tasks.md,
"Is the patient watching?").
"""
from __future__ import annotations

import numpy as np
from numba import njit

from vrgmi.spatial import qrot_t


@njit(cache=True)
def view_angle_kernel(head, point):
    """Angle (rad) between the forward axis of ``head`` (7,) and the direction from the head
    to ``point`` (3,); NaN when the point is at the eyes or anything is not finite."""
    fx, fy, fz = qrot_t(head[3], head[4], head[5], head[6], 0.0, 1.0, 0.0)
    dx, dy, dz = point[0] - head[0], point[1] - head[1], point[2] - head[2]
    nf = np.sqrt(fx * fx + fy * fy + fz * fz)
    nd = np.sqrt(dx * dx + dy * dy + dz * dz)
    if not (nf > 1e-9 and nd > 1e-9):
        return np.nan
    c = (fx * dx + fy * dy + fz * dz) / (nf * nd)
    return np.arccos(min(1.0, max(-1.0, c)))
