"""Framing a laterality stimulus: the same silhouette size and centre in every picture.

A stimulus turned about a fixed point of its model comes nearer or goes further (its size
changes with the view: a clue to the view, not the side) and drifts off the centre. So each
picture is framed from the points of the limb part that shows, as they are turned: the
points' depth centre goes to the stimulus distance, the bounding box of their projection to
the line of sight, and the projection's diameter (its largest extent in any direction, the
same whatever the in-plane rotation) to the chosen visual angle. Plain numpy (no rendering).
"""
from __future__ import annotations

import math

import numpy as np

#: directions (over 180 deg) along which the projection's extent is measured: the largest
#: is the diameter to within 1 - cos(0.5 deg) (0.004 %)
_DIRECTIONS = 180
_UNIT = np.stack([np.cos(np.linspace(0.0, math.pi, _DIRECTIONS, endpoint=False)),
                  np.sin(np.linspace(0.0, math.pi, _DIRECTIONS, endpoint=False))])
#: fixed-point passes that settle the perspective (converged to < 0.01 % after 4)
_PASSES = 5
#: directions spread evenly over the sphere (a Fibonacci lattice) that pick the outer points
#: of a shape: each lies within 5 deg of one, so an extent is missed by < 0.4 % of the radius
_SPHERE = 600
_GOLDEN = math.pi * (3.0 - math.sqrt(5.0))
_Z = 1.0 - 2.0 * (np.arange(_SPHERE) + 0.5) / _SPHERE
_SPHERE_DIRS = np.stack([np.sqrt(1.0 - _Z ** 2) * np.cos(_GOLDEN * np.arange(_SPHERE)),
                         np.sqrt(1.0 - _Z ** 2) * np.sin(_GOLDEN * np.arange(_SPHERE)), _Z])


def outer_points(points: np.ndarray) -> np.ndarray:
    """The few of ``points`` (N, 3) that lie furthest along one of :data:`_SPHERE`
    directions (the convex hull's vertices, nearly all): however the shape is turned, its
    framing depends only on them. Computed once per posture; framing them is then quick."""
    along = _SPHERE_DIRS.T @ points.T                   # (directions, N), rows contiguous
    return points[np.unique(np.concatenate([along.argmax(axis=1), along.argmin(axis=1)]))]


def projected_diameter(uv: np.ndarray) -> float:
    """The largest extent of 2-D points ``uv`` (N, 2) in any direction."""
    along = uv @ _UNIT
    return float((along.max(axis=0) - along.min(axis=0)).max())


def frame_silhouette(points: np.ndarray, distance_m: float,
                     span_deg: float) -> tuple[float, np.ndarray]:
    """The scale and translation (3,) that frame ``points`` (N, 3: the shown limb part,
    already turned, in the stage frame whose origin lies ``distance_m`` ahead of the eye
    along +Y) so that, seen from the eye at (0, -distance_m, 0), their projection's bounding
    box is centred on the line of sight, its diameter subtends ``span_deg`` and their depth
    range is centred on the origin. A point ``p`` goes to ``translation + scale * p``."""
    target = 2.0 * math.tan(math.radians(span_deg) / 2.0)
    lo, hi = points.min(axis=0), points.max(axis=0)
    mid = 0.5 * (lo + hi)
    scale = target * distance_m / max(projected_diameter(points[:, (0, 2)]), 1e-9)
    shift = np.zeros(2)                  # (x, z) of the translation, before the scale
    for _ in range(_PASSES):
        depth = distance_m + scale * (points[:, 1] - mid[1])
        uv = scale * (points[:, (0, 2)] + shift) / depth[:, None]
        centre = 0.5 * (uv.min(axis=0) + uv.max(axis=0))
        shift -= centre * distance_m / scale
        scale *= target / max(projected_diameter(uv), 1e-9)
    translation = np.array([scale * shift[0], -scale * mid[1], scale * shift[1]])
    return scale, translation
