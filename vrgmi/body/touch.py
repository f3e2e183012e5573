"""Touch the phantom: where a brush stroke on the patient's body lands on the virtual limb.

The therapist strokes the intact limb or the residual limb with a tracked brush (a
controller, or a tracker with the role ``handheld_object``). :class:`BrushMap` finds the
place touched as a *limb place*: which surface (``intact`` or ``residual``), the arc length
``u`` along the limb's axis chain (shoulder - elbow - wrist - middle finger tip; hip - knee
- ankle - toe tip) as a fraction of the chain, and the offset from the axis (torso frame).
The same place on the phantom is then

* for the intact limb: the mirror image, the same fraction along the phantom's chain with
  the offset mirrored across the body's sagittal plane (``x -> -x`` in the torso frame);
* for the residual limb: mapped *along* the residual limb to the phantom: the part of the
  residual limb from the stump segment's proximal joint (elbow, knee...) to the stump end
  stretches over the phantom's chain from that joint to its tip, so a stroke toward the
  stump end runs down the phantom forearm into the hand; above that joint a touch stays
  where it is (those segments are real).

:class:`DelayLine` holds the places of the last seconds so the drawn brush can lag the real
one by a set delay (the asynchronous control condition), sample and hold on the display
clock: a delay of 0 shows this frame's sample. Plain NumPy, no rendering.
"""
from __future__ import annotations

import math

import numpy as np

from vrgmi.spatial import quat_rotate

#: the axis chain's joints (names of the limb solvers' joints)
CHAINS = {"arm": ("shoulder", "elbow", "wrist", "middle_tip"),
          "leg": ("hip", "knee", "ankle", "toe_tip")}
SURFACES = ("intact", "residual")
SEGMENTS = {"arm": ("upper arm", "forearm", "hand"), "leg": ("thigh", "shank", "foot")}


def _conj(q: np.ndarray) -> np.ndarray:
    return np.array([-q[0], -q[1], -q[2], q[3]])


class BrushMap:
    """Maps the brush tip onto the limbs of a :class:`vrgmi.core.CorePipeline`.

    ``contact_m``: the tip within this distance of a limb's axis touches it. ``stump_segment``
    and ``stump_fraction`` (the residual layout) say where the residual limb ends.
    """

    def __init__(self, limb: str, joint_names: tuple[str, ...], stump_segment: int,
                 stump_fraction: float, contact_m: float) -> None:
        self.limb = limb
        self.chain = np.array([joint_names.index(n) for n in CHAINS[limb]])
        self.stump_segment = stump_segment
        self.stump_fraction = stump_fraction
        self.contact_m = contact_m
        self._pts = np.zeros((4, 3))
        self._cum = np.zeros(4)

    def _chain(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The chain's points and their cumulative arc length (m)."""
        pts = self._pts
        pts[:] = positions[self.chain]
        self._cum[1:] = np.cumsum(np.linalg.norm(np.diff(pts, axis=0), axis=1))
        return pts, self._cum

    def _nearest(self, tip: np.ndarray, pts: np.ndarray, cum: np.ndarray,
                 end_s: float) -> tuple[float, float, np.ndarray]:
        """(arc length s, distance, offset from the axis) of the chain point nearest ``tip``,
        the chain cut at arc length ``end_s``."""
        best = (math.inf, 0.0, np.zeros(3))
        for k in range(3):
            a, b = pts[k], pts[k + 1]
            seg = b - a
            length = float(cum[k + 1] - cum[k])
            if length <= 1e-9 or cum[k] >= end_s:
                continue
            reach = min(length, end_s - cum[k])
            f = float(np.clip(np.dot(tip - a, seg) / (length * length), 0.0, reach / length))
            off = tip - (a + f * seg)
            d = float(np.linalg.norm(off))
            if d < best[0]:
                best = (d, float(cum[k]) + f * length, off)
        return best[1], best[0], best[2]

    def residual_end_s(self, cum: np.ndarray) -> float:
        """Arc length of the stump end along the chain."""
        k = self.stump_segment
        return float(cum[k] + self.stump_fraction * (cum[k + 1] - cum[k]))

    def locate(self, tip: np.ndarray, intact: np.ndarray, phantom: np.ndarray,
               torso: np.ndarray) -> dict | None:
        """The limb place the brush ``tip`` (3,) is nearest, within three contact radii
        (None when the brush is away from both limbs): ``surface``, ``u`` (0..1 of the
        chain), ``offset`` (3,) in the torso frame, ``distance_m``, ``touching`` and the
        segment's name. ``phantom`` holds the residual limb's joints (the phantom solver's
        real prefix)."""
        best = None
        for surface, positions in (("intact", intact), ("residual", phantom)):
            pts, cum = self._chain(positions)
            end = float(cum[-1]) if surface == "intact" else self.residual_end_s(cum)
            s, d, off = self._nearest(tip, pts, cum, end)
            if best is None or d < best["distance_m"]:
                seg = int(np.searchsorted(cum, s, side="right") - 1)
                best = {"surface": surface, "u": s / float(cum[-1]), "distance_m": d,
                        "offset": quat_rotate(_conj(torso[3:]), off),
                        "segment": SEGMENTS[self.limb][min(max(seg, 0), 2)],
                        "end_u": end / float(cum[-1])}
        if best is None or best["distance_m"] > 3.0 * self.contact_m:
            return None
        best["touching"] = best["distance_m"] <= self.contact_m
        return best

    def phantom_u(self, place: dict) -> float:
        """Where on the phantom's chain (0..1) the place is drawn."""
        if place["surface"] == "intact":
            return place["u"]
        pts, cum = self._pts, self._cum
        start = float(cum[self.stump_segment]) / float(cum[-1])
        end = place["end_u"]
        if place["u"] <= start or end <= start:
            return place["u"]
        return start + (place["u"] - start) / (end - start) * (1.0 - start)

    def draw_point(self, place: dict, phantom: np.ndarray, torso: np.ndarray,
                   out: np.ndarray) -> np.ndarray:
        """The world point on (or beside) the phantom where the brush is drawn, into ``out``
        (3,): the phantom's chain at :meth:`phantom_u` plus the place's offset (mirrored for
        the intact limb)."""
        pts, cum = self._chain(phantom)
        s = self.phantom_u(place) * float(cum[-1])
        k = int(min(max(np.searchsorted(cum, s, side="right") - 1, 0), 2))
        length = float(cum[k + 1] - cum[k])
        f = (s - float(cum[k])) / length if length > 1e-9 else 0.0
        off = np.array(place["offset"], dtype=np.float64)
        if place["surface"] == "intact":
            off[0] = -off[0]
        out[:] = pts[k] + f * (pts[k + 1] - pts[k]) + quat_rotate(torso[3:], off)
        return out


def tip_offset(brush: np.ndarray, landmark: np.ndarray) -> np.ndarray:
    """One-step calibration: the brush tip's offset in the brush's own frame, with the tip
    held on ``landmark`` (3,) while the brush is at pose ``brush`` (7,)."""
    return quat_rotate(_conj(brush[3:]), np.asarray(landmark, dtype=np.float64) - brush[:3])


def tip_position(brush: np.ndarray, offset: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The brush tip in the world from its pose (7,) and calibrated ``offset`` (3,)."""
    out[:] = brush[:3] + quat_rotate(brush[3:], offset)
    return out


class DelayLine:
    """The last ``capacity`` samples (display time, value) in a ring; :meth:`at` gives the
    newest sample at or before ``t - delay``: the drawn brush lags by ``delay`` to within
    one frame, and a delay of 0 gives the sample pushed this frame."""

    def __init__(self, capacity: int) -> None:
        self.t = np.full(capacity, -math.inf)
        self.values: list = [None] * capacity
        self._head = -1

    def push(self, t: float, value) -> None:
        """Add the sample of the frame shown at ``t``."""
        self._head = (self._head + 1) % len(self.t)
        self.t[self._head] = t
        self.values[self._head] = value

    def at(self, t: float, delay: float):
        """The value to show at ``t`` with ``delay`` (None before any old enough sample)."""
        want = t - delay + 1e-6
        n = len(self.t)
        for k in range(n):
            i = (self._head - k) % n
            if self.t[i] <= want:
                return self.values[i]
        return None
