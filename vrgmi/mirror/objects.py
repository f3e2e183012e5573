"""Functional arm tasks with objects on the table, done with the mirrored hand (mirror levels
3-4, docs/mirror-tasks.md "Functional tasks"): move a cup, pour from a jug into a glass, turn
a key in a lock, wipe a stain off the table. No Panda3D.

Each task is stepped once per frame with the phantom palm centre (NaN while the intact hand
is not tracked, which never grasps or cleans) and the phantom hand's world delta rotation
(identity = rest). An object is **grasped** when the palm stays within ``grasp_radius_m`` of
its handle for ``dwell_s``; a cup or jug then comes up to rest against the hand (its rim
under the palm, every hand joint outside it: :meth:`HeldObject.fit`), and from then on it
moves rigidly with the hand: its centre keeps its offset from the palm, turned by the
hand's rotation since the grasp (so tilting the hand tilts the cup, turning the forearm
turns the key). A new object never appears around the hand. Object spots are drawn from the
scene's seeded generator (:func:`table_spots`): on the missing side of the table, inside
the arm's reach.

Every result has a ``score`` in 0..1 (how well, not only whether, it was done; defined per
task below) besides the common fields of :class:`vrgmi.mirror.trial.TrialTask`.
"""
from __future__ import annotations

import math
from typing import Any, Callable, ClassVar

import numpy as np

from vrgmi.mirror.trial import (HoldTimer, MirrorTaskError, TrialTask, check_range,
                                flat_distance, lateral_sign, round_list, trial_spots, yaw_axes)

#: the cup (and jug): radius and height (m); the palm holds it at half height
CUP_RADIUS_M = 0.04
CUP_HEIGHT_M = 0.10
#: a cup or jug is held from above: the palm this far (m) above its rim
GRIP_ABOVE_RIM_M = 0.03
#: a held cup or jug rests against the hand: its rim this far (m) under the palm centre
#: (the palm's soft tissue), every joint of the hand at least this far (m) outside it (a
#: joint lies on the bone, under the skin)
PALM_CLEARANCE_M = 0.012
JOINT_CLEARANCE_M = 0.008
#: the grasp slides the cup up toward the palm in steps of this (m)
FIT_STEP_M = 0.004
#: the glass poured into
GLASS_RADIUS_M = 0.035
GLASS_HEIGHT_M = 0.11
#: a cup is down on the table when its base is at most this (m) above the top
PLACE_HEIGHT_M = 0.025
#: a cup tilted more than this (deg) is not set down upright
UPRIGHT_DEG = 25.0
#: the lock: a block on the table, the key this high (m) above the top, pointing at the
#: patient; the hand lets go of the key when the palm is this many grasp radii away
KEY_HEIGHT_M = 0.16
KEY_RELEASE_RADII = 2.0
#: the key is pinched between the thumb and the side of the index (between its middle joints):
#: the palm centre this far (m) behind the key's bow, toward the patient
KEY_PINCH_FROM_PALM_M = 0.095
#: the stain and the cloth: cells this far apart (m) cover the stain; the palm cleans within
#: ``cloth_radius_m`` while the hand is down on the table: its palm centre at most
#: CONTACT_HEIGHT_M above the top
WIPE_CELL_M = 0.02
CONTACT_HEIGHT_M = 0.07
#: given the hand's joints, the hand is down on the table while its lowest joint is at
#: most this (m) above the top (a hand flat on the cloth)
CONTACT_JOINT_M = 0.03
#: where objects may stand: forward of the torso origin and out from the midline (m)
FORWARD_M = (0.38, 0.62)
LATERAL_M = (0.12, 0.45)
#: nearest an object may be to the table's near edge (m)
EDGE_MARGIN_M = 0.05


# --- rotations (scalar-last quaternions as 4 floats; no allocation) ----------------------

def relative_rotation(q: np.ndarray, ref: np.ndarray) -> tuple[float, float, float, float]:
    """``q * conj(ref)``: the world rotation from ``ref`` to ``q``."""
    ax, ay, az, aw = float(q[0]), float(q[1]), float(q[2]), float(q[3])
    bx, by, bz, bw = -float(ref[0]), -float(ref[1]), -float(ref[2]), float(ref[3])
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def rotate(q: tuple[float, float, float, float], v: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``v`` (3,) turned by ``q`` into ``out``."""
    qx, qy, qz, qw = q
    vx, vy, vz = float(v[0]), float(v[1]), float(v[2])
    tx, ty, tz = 2.0 * (qy * vz - qz * vy), 2.0 * (qz * vx - qx * vz), 2.0 * (qx * vy - qy * vx)
    out[0] = vx + qw * tx + (qy * tz - qz * ty)
    out[1] = vy + qw * ty + (qz * tx - qx * tz)
    out[2] = vz + qw * tz + (qx * ty - qy * tx)
    return out


def tilt_deg(q: tuple[float, float, float, float]) -> float:
    """How far (deg) ``q`` tips the vertical: the angle between z and q z."""
    qx, qy = q[0], q[1]
    up_z = 1.0 - 2.0 * (qx * qx + qy * qy)
    return math.degrees(math.acos(min(1.0, max(-1.0, up_z))))


def twist_deg(q: tuple[float, float, float, float], axis: np.ndarray) -> float:
    """The signed angle (deg, -180..180) ``q`` turns about the unit ``axis`` (its twist in
    the swing-twist decomposition)."""
    along = q[0] * axis[0] + q[1] * axis[1] + q[2] * axis[2]
    angle = math.degrees(2.0 * math.atan2(along, q[3]))
    return (angle + 180.0) % 360.0 - 180.0


# --- where objects stand --------------------------------------------------------------------

def _stands_around(spot: np.ndarray, points: np.ndarray, radius: float, height: float) -> bool:
    """Whether an object of ``radius`` and ``height`` standing on ``spot`` holds a point."""
    dx, dy = points[:, 0] - spot[0], points[:, 1] - spot[1]
    return bool(((dx * dx + dy * dy < radius * radius)
                 & (points[:, 2] < spot[2] + height)).any())


def table_spots(rng: np.random.Generator, shoulder: np.ndarray, torso_pose: np.ndarray,
                side: int, reach_m: float, distance: float, count: int, gap_m: float,
                table_z: float, table_near_y: float, hold_height_m: float,
                edge_margin_m: float = EDGE_MARGIN_M, tries: int = 1000,
                avoid: np.ndarray | None = None,
                footprint: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """``count`` spots (count, 3) on the table top (z = ``table_z``) on the ``side`` of the
    midline, each with its hold point (``hold_height_m`` above it) at most ``distance`` x
    ``reach_m`` from the shoulder and not nearer than half the reach, at least ``gap_m``
    apart from each other, at least ``edge_margin_m`` behind the table's near edge, and
    (given the points to ``avoid`` (k, 3), e.g. the hand's joints) none where an object of
    ``footprint`` (radius, height; m) standing on it would hold one of those points: an
    object never appears around the hand."""
    check_range("distance", distance, 0.5, 1.0)
    right, fwd = yaw_axes(torso_pose)
    lat = lateral_sign(side) * right
    out = np.zeros((count, 3))
    for i in range(count):
        for _ in range(tries):
            p = (torso_pose[:3] + rng.uniform(*FORWARD_M) * fwd
                 + rng.uniform(*LATERAL_M) * lat)
            p[2] = table_z
            d = math.dist((p[0], p[1], p[2] + hold_height_m), shoulder)
            if (not 0.5 * reach_m <= d <= distance * reach_m
                    or p[1] < table_near_y + edge_margin_m
                    or any(math.dist(p, out[j]) < gap_m for j in range(i))
                    or (avoid is not None and _stands_around(p, avoid, *footprint))):
                continue
            out[i] = p
            break
        else:
            raise MirrorTaskError(f"no table spot within {distance:g} of the reach; choose a "
                                  "larger distance")
    return out


class HeldObject:
    """An object the palm may grasp: its centre, and once grasped, the hand's rotation
    and the palm-to-centre offset at the grasp (preallocated; :meth:`follow` per frame)."""

    def __init__(self) -> None:
        self.centre = np.zeros(3)
        self.held = False
        self.ref = np.array([0.0, 0.0, 0.0, 1.0])
        self.offset = np.zeros(3)
        self.rotation: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 1.0)

    def put(self, centre: np.ndarray) -> None:
        """Stand the object at ``centre``, not held, upright."""
        self.centre[:] = centre
        self.held = False
        self.rotation = (0.0, 0.0, 0.0, 1.0)

    def grasp(self, palm: np.ndarray, hand: np.ndarray,
              joints: np.ndarray | None = None) -> None:
        """The palm takes hold of the object now. Given the hand's ``joints`` (k, 3), an
        upright cup or jug is first raised to rest against the hand (:meth:`fit`)."""
        self.held = True
        self.ref[:] = hand
        if joints is not None:
            self.fit(palm, joints)
        np.subtract(self.centre, palm, out=self.offset)

    def fit(self, palm: np.ndarray, joints: np.ndarray) -> None:
        """Raise the upright cup toward the palm, at most until its rim is
        :data:`PALM_CLEARANCE_M` under the palm centre, as far as every hand joint stays
        :data:`JOINT_CLEARANCE_M` outside it: the hand holds it at its surface (the
        fingers around it stay outside). It never goes down."""
        top = float(palm[2]) - PALM_CLEARANCE_M - 0.5 * CUP_HEIGHT_M
        z = self.centre[2]
        best = z
        while top > z:
            self.centre[2] = top
            if cup_clear(joints, self.centre, JOINT_CLEARANCE_M):
                best = top
                break
            top -= FIT_STEP_M
        self.centre[2] = best

    def follow(self, palm: np.ndarray, hand: np.ndarray, floor_z: float) -> None:
        """Move with the hand (not below ``floor_z``, the centre's lowest height)."""
        if not self.held or palm[0] != palm[0] or hand[3] != hand[3]:
            return
        self.rotation = relative_rotation(hand, self.ref)
        rotate(self.rotation, self.offset, self.centre)
        self.centre += palm
        self.centre[2] = max(self.centre[2], floor_z)

    @property
    def tilt(self) -> float:
        """How far (deg) the object is tipped from upright."""
        return tilt_deg(self.rotation)


def cup_clear(points: np.ndarray, centre: np.ndarray, margin: float) -> bool:
    """Whether every point (k, 3) is at least ``margin`` outside an upright cup (or jug)
    centred at ``centre``."""
    dx, dy = points[:, 0] - centre[0], points[:, 1] - centre[1]
    r = CUP_RADIUS_M + margin
    inside = (dx * dx + dy * dy < r * r) & (np.abs(points[:, 2] - centre[2])
                                             < 0.5 * CUP_HEIGHT_M + margin)
    return not bool(inside.any())


def _near(a: np.ndarray, b: np.ndarray, radius: float) -> bool:
    d0, d1, d2 = a[0] - b[0], a[1] - b[1], a[2] - b[2]
    return bool(d0 * d0 + d1 * d1 + d2 * d2 <= radius * radius)


class HandObjectTask(TrialTask):
    """What the arm object tasks share: the palm and hand rotation each frame, a grasp of
    ``self.item`` by a dwell within ``grasp_radius_m`` of ``grasp_point()``, the time limit,
    and ``make_spots(trial_index) -> (k, 3)`` table spots for each trial. ``fits``: the
    grasp brings the item (a cup or jug) to rest against the hand."""

    fits: ClassVar[bool] = True

    def __init__(self, make_spots: Callable[[int], np.ndarray], grasp_radius_m: float,
                 dwell_s: float, time_limit_s: float, trials: int, rest_s: float,
                 rate_hz: float) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.make_spots = make_spots
        self.grasp_radius_m = check_range("grasp_radius_m", grasp_radius_m, 0.02, 0.2)
        self.dwell = HoldTimer(check_range("dwell_s", dwell_s, 0.0, 5.0))
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 2.0, 180.0)
        self.spots = np.zeros((0, 3))
        self.item = HeldObject()
        self.palm = np.full(3, np.nan)
        self.hand = np.array([0.0, 0.0, 0.0, 1.0])
        self.grasp_time = math.nan
        self.joints: np.ndarray | None = None
        self._grip = np.zeros(3)

    def update(self, t: float, palm: np.ndarray, hand: np.ndarray,
               joints: np.ndarray | None = None) -> dict[str, Any] | None:
        """One frame: the phantom palm centre (3,) and hand rotation (4,) (NaN = lost),
        and when known the hand's joints (k, 3) (a grasp fits the item to them)."""
        self.palm[:] = palm
        self.hand[:] = hand
        self.joints = joints
        return self._step(t, palm)

    def _spots(self, count: int) -> np.ndarray:
        return trial_spots(self.make_spots, self.index, count, self.task, "table")

    def grasp_point(self) -> np.ndarray:
        """Where the palm takes hold of the item: above a cup's rim (a top grasp, the
        fingers around the rim), overridden for the key."""
        np.add(self.item.centre, (0.0, 0.0, 0.5 * CUP_HEIGHT_M + GRIP_ABOVE_RIM_M),
               out=self._grip)
        return self._grip

    def _try_grasp(self, t: float) -> bool:
        """Dwell on the item; True on the frame it is grasped."""
        if self.item.held:
            return False
        if self.dwell.update(t, _near(self.palm, self.grasp_point(), self.grasp_radius_m)):
            self.item.grasp(self.palm, self.hand, self.joints if self.fits else None)
            self.grasp_time = t - self.onset
            self.dwell.reset()
            return True
        return False

    def _timed_out(self, t: float) -> bool:
        return t - self.onset >= self.time_limit_s

    def _common(self, outcome: str, score: float) -> dict[str, Any]:
        return {"grasp_time_s": None if self.grasp_time != self.grasp_time
                else round(self.grasp_time, 3),
                "spots": round_list(self.spots), "outcome": outcome,
                "score": round(min(1.0, max(0.0, score)), 3)}


class CupMoveTask(HandObjectTask):
    """Grasp the cup, carry it to the marked spot and set it down upright there.

    Spots per trial: the cup's place, the target spot. Placed: the cup's base within
    ``place_radius_m`` of the spot's centre (horizontally), down on the table and at most
    :data:`UPRIGHT_DEG` tilted, for ``dwell_s``. ``score``: placement accuracy, 1 - error /
    radius (0 when not placed). Fields: ``placement_error_m``, ``peak_tilt_deg``,
    ``grasp_time_s``, ``outcome`` (``placed`` | ``timeout``)."""

    task = "cup_move"

    def __init__(self, make_spots: Callable[[int], np.ndarray], grasp_radius_m: float = 0.07,
                 place_radius_m: float = 0.06, dwell_s: float = 0.3,
                 time_limit_s: float = 20.0, trials: int = 6, rest_s: float = 1.0,
                 rate_hz: float = 90.0) -> None:
        super().__init__(make_spots, grasp_radius_m, dwell_s, time_limit_s, trials, rest_s,
                         rate_hz)
        self.place_radius_m = check_range("place_radius_m", place_radius_m, 0.02, 0.2)
        self.peak_tilt = 0.0

    def _begin(self, t: float) -> None:
        self.spots = self._spots(2)
        self.item.put(self.spots[0] + (0.0, 0.0, 0.5 * CUP_HEIGHT_M))
        self.grasp_time = math.nan
        self.peak_tilt = 0.0
        self.dwell.reset()

    def placed_now(self) -> bool:
        """Whether the cup stands on the target spot now."""
        item, spot = self.item, self.spots[1]
        base = item.centre[2] - 0.5 * CUP_HEIGHT_M
        return (item.held and flat_distance(item.centre, spot) <= self.place_radius_m
                and base <= spot[2] + PLACE_HEIGHT_M and item.tilt <= UPRIGHT_DEG)

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        item = self.item
        if not item.held:
            self._try_grasp(t)
        else:
            item.follow(self.palm, self.hand, self.spots[1][2] + 0.5 * CUP_HEIGHT_M)
            self.peak_tilt = max(self.peak_tilt, item.tilt)
            if self.dwell.update(t, self.placed_now()):
                return True, self._fields("placed")
        if self._timed_out(t):
            return False, self._fields("timeout")
        return None

    def _fields(self, outcome: str) -> dict[str, Any]:
        error = flat_distance(self.item.centre, self.spots[1])
        placed = outcome == "placed"
        out = self._common(outcome, 1.0 - error / self.place_radius_m if placed else 0.0)
        out.update(target_ids=[f"{self.index}.cup", f"{self.index}.spot"],
                   placement_error_m=round(error, 4), peak_tilt_deg=round(self.peak_tilt, 1),
                   place_radius_m=self.place_radius_m)
        return out


class PourTask(HandObjectTask):
    """Grasp the jug, hold it over the glass and tip it to pour for ``pour_s`` seconds.

    Spots per trial: the jug's place, the glass's. Pouring: the jug tipped at least
    ``pour_deg``; into the glass while the jug's centre is within ``over_radius_m`` of the
    glass's axis (horizontally) and above its rim, else spilled. ``score``: the poured
    share of ``pour_s``, less the spilled share (0..1). Fields: ``poured_s``, ``spilled_s``,
    ``peak_tilt_deg``, ``outcome`` (``poured`` | ``timeout``)."""

    task = "pour"

    def __init__(self, make_spots: Callable[[int], np.ndarray], grasp_radius_m: float = 0.07,
                 pour_deg: float = 50.0, pour_s: float = 1.5, over_radius_m: float = 0.07,
                 dwell_s: float = 0.3, time_limit_s: float = 25.0, trials: int = 6,
                 rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(make_spots, grasp_radius_m, dwell_s, time_limit_s, trials, rest_s,
                         rate_hz)
        self.pour_deg = check_range("pour_deg", pour_deg, 20.0, 120.0)
        self.pour_s = check_range("pour_s", pour_s, 0.2, 10.0)
        self.over_radius_m = check_range("over_radius_m", over_radius_m, 0.02, 0.2)
        self.poured_s = 0.0
        self.spilled_s = 0.0
        self.peak_tilt = 0.0
        self._last_t = math.nan

    def _begin(self, t: float) -> None:
        self.spots = self._spots(2)
        self.item.put(self.spots[0] + (0.0, 0.0, 0.5 * CUP_HEIGHT_M))
        self.grasp_time = math.nan
        self.poured_s = self.spilled_s = self.peak_tilt = 0.0
        self._last_t = t
        self.dwell.reset()

    @property
    def over_glass(self) -> bool:
        """Whether the jug is over the glass, above its rim."""
        glass = self.spots[1]
        base = self.item.centre[2] - 0.5 * CUP_HEIGHT_M
        return (flat_distance(self.item.centre, glass) <= self.over_radius_m
                and base >= glass[2] + GLASS_HEIGHT_M - 0.02)

    @property
    def pouring(self) -> bool:
        """Whether the held jug is tipped far enough to pour now."""
        return self.item.held and self.item.tilt >= self.pour_deg

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        dt, self._last_t = t - self._last_t, t
        item = self.item
        if not item.held:
            self._try_grasp(t)
        else:
            item.follow(self.palm, self.hand, self.spots[0][2] + 0.5 * CUP_HEIGHT_M)
            self.peak_tilt = max(self.peak_tilt, item.tilt)
            if self.pouring:
                if self.over_glass:
                    self.poured_s += dt
                else:
                    self.spilled_s += dt
            if self.poured_s >= self.pour_s - 1e-9:
                return True, self._fields("poured")
        if self._timed_out(t):
            return False, self._fields("timeout")
        return None

    def _fields(self, outcome: str) -> dict[str, Any]:
        share = min(self.poured_s / self.pour_s, 1.0)
        out = self._common(outcome, share - self.spilled_s / self.pour_s)
        out.update(target_ids=[f"{self.index}.jug", f"{self.index}.glass"],
                   poured_s=round(self.poured_s, 3), spilled_s=round(self.spilled_s, 3),
                   peak_tilt_deg=round(self.peak_tilt, 1), pour_deg=self.pour_deg,
                   pour_s=self.pour_s)
        return out


class KeyTurnTask(HandObjectTask):
    """Take hold of the key in the lock and turn it ``turn_deg`` (either way), holding it
    there for ``hold_s``.

    Spots per trial: the lock's place; the key sticks out of the lock toward the patient
    :data:`KEY_HEIGHT_M` above the table. The turn is the hand's twist since the grasp about
    the key's axis (the torso's forward axis: a forearm rotation); the hand lets go (the
    turn resets) when the palm leaves :data:`KEY_RELEASE_RADII` grasp radii. ``score``: the
    largest turn as a share of ``turn_deg`` (1 = turned all the way). Fields:
    ``peak_turn_deg``, ``held_s``, ``outcome`` (``turned`` | ``timeout``)."""

    task = "key_turn"
    fits = False                         # the key stays in its lock

    def __init__(self, make_spots: Callable[[int], np.ndarray], axis: np.ndarray,
                 grasp_radius_m: float = 0.07, turn_deg: float = 60.0, hold_s: float = 0.5,
                 dwell_s: float = 0.3, time_limit_s: float = 20.0, trials: int = 6,
                 rest_s: float = 1.0, rate_hz: float = 90.0) -> None:
        super().__init__(make_spots, grasp_radius_m, dwell_s, time_limit_s, trials, rest_s,
                         rate_hz)
        self.axis = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
        self.turn_deg = check_range("turn_deg", turn_deg, 15.0, 120.0)
        self.hold = HoldTimer(check_range("hold_s", hold_s, 0.0, 5.0))
        self.turn = 0.0
        self.peak_turn = 0.0

    def grasp_point(self) -> np.ndarray:
        """Where the palm centre is while thumb and index pinch the key's bow:
        :data:`KEY_PINCH_FROM_PALM_M` behind it, toward the patient."""
        np.subtract(self.item.centre, KEY_PINCH_FROM_PALM_M * self.axis, out=self._grip)
        return self._grip

    def _begin(self, t: float) -> None:
        self.spots = self._spots(1)
        self.item.put(self.spots[0] + (0.0, 0.0, KEY_HEIGHT_M))
        self.grasp_time = math.nan
        self.turn = self.peak_turn = 0.0
        self.hold.reset()
        self.dwell.reset()

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        item = self.item
        if item.held and not _near(self.palm, self.grasp_point(),
                                   KEY_RELEASE_RADII * self.grasp_radius_m):
            item.held = False                     # let go: the key springs back
            self.turn = 0.0
            self.hold.reset()
        if not item.held:
            self._try_grasp(t)
        elif self.hand[3] == self.hand[3]:
            self.turn = twist_deg(relative_rotation(self.hand, item.ref), self.axis)
            self.peak_turn = max(self.peak_turn, abs(self.turn))
        if self.hold.update(t, item.held and abs(self.turn) >= self.turn_deg):
            return True, self._fields(t, "turned")
        if self._timed_out(t):
            return False, self._fields(t, "timeout")
        return None

    def _fields(self, t: float, outcome: str) -> dict[str, Any]:
        out = self._common(outcome, self.peak_turn / self.turn_deg)
        out.update(target_ids=[f"{self.index}.key"], peak_turn_deg=round(self.peak_turn, 1),
                   held_s=round(self.hold.held_s(t), 3), turn_deg=self.turn_deg,
                   hold_s=self.hold.hold_s)
        return out


def stain_cells(centre: np.ndarray, radius_m: float, spacing_m: float = WIPE_CELL_M) -> np.ndarray:
    """The (n, 2) grid points (``spacing_m`` apart) inside a stain of ``radius_m``."""
    k = int(math.ceil(radius_m / spacing_m))
    g = np.arange(-k, k + 1) * spacing_m
    xx, yy = np.meshgrid(g, g)
    inside = xx * xx + yy * yy <= radius_m * radius_m
    return np.stack([xx[inside] + centre[0], yy[inside] + centre[1]], axis=1)


class WipeTask(TrialTask):
    """Wipe a stain off the table with the cloth under the mirrored hand.

    Spots per trial: the stain's centre. The stain is a grid of cells
    (:func:`stain_cells`); a cell is clean once the palm has passed within ``cloth_radius_m``
    of it (horizontally) while down on the table (:attr:`in_contact`). Done when
    ``clean_fraction`` of the cells are clean. ``score``: the share of the stain cleaned.
    Fields: ``cleaned_fraction``, ``contact_s``, ``outcome`` (``clean`` | ``timeout``).
    Per frame it only writes preallocated arrays."""

    task = "wipe_table"

    def __init__(self, make_spots: Callable[[int], np.ndarray], stain_radius_m: float = 0.10,
                 cloth_radius_m: float = 0.05, clean_fraction: float = 0.9,
                 time_limit_s: float = 30.0, trials: int = 4, rest_s: float = 1.0,
                 rate_hz: float = 90.0) -> None:
        super().__init__(trials, rest_s, rate_hz)
        self.make_spots = make_spots
        self.stain_radius_m = check_range("stain_radius_m", stain_radius_m, 0.04, 0.25)
        self.cloth_radius_m = check_range("cloth_radius_m", cloth_radius_m, 0.02, 0.12)
        self.clean_fraction = check_range("clean_fraction", clean_fraction, 0.3, 1.0)
        self.time_limit_s = check_range("time_limit_s", time_limit_s, 2.0, 180.0)
        self.spots = np.zeros((1, 3))
        self.palm = np.full(3, np.nan)
        self.cells = stain_cells(np.zeros(2), self.stain_radius_m)
        self.clean = np.zeros(len(self.cells), dtype=bool)
        self._diff = np.zeros_like(self.cells)
        self._d2 = np.zeros(len(self.cells))
        self._hit = np.zeros(len(self.cells), dtype=bool)
        self.contact_s = 0.0
        self._last_t = math.nan
        self._lowest = math.nan

    def update(self, t: float, palm: np.ndarray, hand: np.ndarray | None = None,
               joints: np.ndarray | None = None) -> dict[str, Any] | None:
        """One frame: the phantom palm centre (3,) (NaN = lost) and, when known, the hand's
        joints (k, 3); the hand's rotation is not used (a flat hand or a fist both wipe)."""
        self.palm[:] = palm
        self._lowest = math.nan if joints is None else float(joints[:, 2].min())
        return self._step(t, palm)

    def _begin(self, t: float) -> None:
        self.spots = spots = trial_spots(self.make_spots, self.index, 1, self.task, "table")
        cells = stain_cells(spots[0], self.stain_radius_m)
        if len(cells) != len(self.cells):
            self._diff = np.zeros_like(cells)
            self._d2 = np.zeros(len(cells))
            self._hit = np.zeros(len(cells), dtype=bool)
            self.clean = np.zeros(len(cells), dtype=bool)
        self.cells = cells
        self.clean[:] = False
        self.contact_s = 0.0
        self._last_t = t

    @property
    def in_contact(self) -> bool:
        """Whether the hand is down on the table now: its lowest joint within
        :data:`CONTACT_JOINT_M` of the top (the palm centre within
        :data:`CONTACT_HEIGHT_M` when the joints are not known)."""
        z, low, top = self.palm[2], self._lowest, self.spots[0][2]
        if z != z:
            return False
        return bool(low <= top + CONTACT_JOINT_M if low == low else z <= top + CONTACT_HEIGHT_M)

    @property
    def cleaned_fraction(self) -> float:
        """The share of the stain cleaned so far."""
        return float(np.count_nonzero(self.clean)) / len(self.clean)

    def _evaluate(self, t: float) -> tuple[bool, dict[str, Any]] | None:
        dt, self._last_t = t - self._last_t, t
        if self.in_contact:
            self.contact_s += dt
            np.subtract(self.cells, self.palm[:2], out=self._diff)
            np.multiply(self._diff, self._diff, out=self._diff)
            np.sum(self._diff, axis=1, out=self._d2)
            np.less_equal(self._d2, self.cloth_radius_m ** 2, out=self._hit)
            np.logical_or(self.clean, self._hit, out=self.clean)
        if self.cleaned_fraction >= self.clean_fraction - 1e-9:
            return True, self._fields("clean")
        if t - self.onset >= self.time_limit_s:
            return False, self._fields("timeout")
        return None

    def _fields(self, outcome: str) -> dict[str, Any]:
        f = self.cleaned_fraction
        return {"target_ids": [f"{self.index}.stain"], "spots": round_list(self.spots),
                "cleaned_fraction": round(f, 3), "contact_s": round(self.contact_s, 3),
                "stain_radius_m": self.stain_radius_m, "outcome": outcome,
                "score": round(f, 3)}
