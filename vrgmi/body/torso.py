"""The seated patient's body frame: set by calibration and recenters, turned only by the body.

Torso frame: origin at the midpoint between the shoulder joints, x = the body's right axis,
y forward, z up (yaw only: pitch and roll are ignored). The sagittal plane is the plane
through the origin with normal x; mirroring happens in this frame (``vrgmi.body.mirror``).

The gaze never moves it. A patient doing mirror therapy looks at the phantom, 30-60 deg off
the midline, for minutes; a frame that followed the head would carry the mirror image away
exactly then. So the frame comes from:

* **a recenter**: the first tracked head (session start), a calibration, the companion's
  Recenter, the ``r`` key, a long press of the menu button (:meth:`request_recenter`, applied
  with the next frame's head): yaw = where the head faces, origin at a fixed offset from the
  neck pivot (a point behind and below the eyes that head turns and nods leave in place);
* **a waist (else chest) tracker**, when one is tracked: bound to the frame at the recenter
  (or when it first appears), its yaw and position are then followed with time constant
  ``tracker_tau_s``, at most ``max_turn_dps`` and ``max_shift_mps`` (a chair turn moves the
  phantom smoothly, never by a jump); a turn of ``turn_min_deg`` or more that has settled is
  recorded (``body_turned``);
* **nothing else**. Without such a tracker the frame holds, and :mod:`vrgmi.body.turns`
  (:meth:`check_turn`, after the intact limb is known) only *suspects* a chair turn, for the
  therapist to confirm with a recenter.

What happened is queued in :attr:`notes` (``recenter``, ``body_turned``,
``body_turn_suspected``, ``body_turn_cleared``) for the session to record. Everything per frame
runs in njit kernels on preallocated arrays.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np
from numba import njit

from vrgmi.body.anthropometry import SegmentLengths
from vrgmi.body.hand import wrist_from_grip
from vrgmi.body.skeleton import BodyModelError, side_index
from vrgmi.body.turns import EV_CLEARED, EV_SUSPECTED, TurnDetector
from vrgmi.settings import BodySettings
from vrgmi.spatial import qrot_t
from vrgmi.tracking.frame import TRACKER_INDEX, SIDES, TrackingFrame

#: the eyes (head pose origin) relative to the neck pivot, head-local axes (+y forward,
#: +z up): an estimate, only used so that nods and head turns leave the pivot in place
EYE_FROM_NECK = (0.09, 0.05)
#: the most body-frame notes kept when nobody reads them (a replay dump)
NOTES_KEPT = 64

# parameter vector indices
(P_TAU, P_MAX_RATE, P_MAX_SHIFT, P_TURN_MIN, P_SETTLE, P_EYE_FWD, P_EYE_UP, P_OFF_Y, P_OFF_Z,
 P_SH_LAT, P_HIP_LAT, P_HIP_FWD, P_HIP_DROP, P_COUNT) = range(14)
# state vector indices: the frame; the tracker binding (axis, yaw offset, origin offset in body
# axes); the yaw of the last recorded turn; the latest head yaw and neck pivot
(S_INIT, S_YAW, S_OX, S_OY, S_OZ, S_BOUND, S_AXIS, S_REF_YAW, S_REF_X, S_REF_Y, S_TURN_YAW,
 S_TURN_FROM, S_HEAD_YAW, S_NX, S_NY, S_NZ, S_COUNT) = range(17)
EV_RECENTER, EV_TURNED = 1, 2

_REFERENCE_ROLES = ("waist", "chest")


class CalibrationError(BodyModelError):
    """The calibration frames cannot give a plausible torso (one line, says what to do)."""


@njit(cache=True)
def _wrap(a):
    return (a + np.pi) % (2.0 * np.pi) - np.pi


@njit(cache=True)
def _local_axis(pose, axis):
    """Local axis ``axis`` (0 x, 1 y, 2 z) of ``pose`` in world space, as 3 floats."""
    return qrot_t(pose[3], pose[4], pose[5], pose[6], 1.0 if axis == 0 else 0.0,
                  1.0 if axis == 1 else 0.0, 1.0 if axis == 2 else 0.0)


@njit(cache=True)
def _axis_yaw(pose, axis):
    """Yaw (about +z, 0 = facing +y) of local axis ``axis`` (0 x, 1 y, 2 z) of ``pose``
    projected on the floor, NaN when it points nearly straight up or down."""
    fx, fy, _ = _local_axis(pose, axis)
    if fx * fx + fy * fy < 0.09:
        return np.nan
    return np.arctan2(-fx, fy)


@njit(cache=True)
def _head_yaw(head):
    """Yaw of the head's forward axis (its local y)."""
    return _axis_yaw(head, 1)


@njit(cache=True)
def _flattest_axis(pose):
    """The local axis (0 x, 1 y, 2 z) of ``pose`` closest to horizontal."""
    best, axis = 2.0, 0
    for k in range(3):
        z = abs(_local_axis(pose, k)[2])
        if z < best:
            best, axis = z, k
    return axis


@njit(cache=True)
def _neck(head, prm):
    return qrot_t(head[3], head[4], head[5], head[6], 0.0, -prm[P_EYE_FWD], -prm[P_EYE_UP])


@njit(cache=True)
def _bind(ref, st):
    """Tie the reference tracker to the body frame as it is now."""
    axis = _flattest_axis(ref)
    yaw = _axis_yaw(ref, axis)
    st[S_BOUND], st[S_AXIS], st[S_REF_YAW] = 1.0, axis, _wrap(st[S_YAW] - yaw)
    c, s = np.cos(st[S_YAW]), np.sin(st[S_YAW])
    dx, dy = st[S_OX] - ref[0], st[S_OY] - ref[1]
    st[S_REF_X], st[S_REF_Y] = c * dx + s * dy, -s * dx + c * dy


@njit(cache=True)
def torso_update_kernel(head, head_valid, ref, ref_valid, dt, snap, prm, st, pose, shoulders,
                        hips, normal):
    """One body-frame update (see the module docstring); writes ``pose`` (7,), ``shoulders``
    (2, 3), ``hips`` (2, 3) and the sagittal plane ``normal`` (3,). Returns EV_RECENTER when
    it (re)centred, EV_TURNED when a tracked turn settled, else 0."""
    event = 0
    st[S_HEAD_YAW] = np.nan
    if head_valid:
        nx, ny, nz = _neck(head, prm)
        st[S_NX], st[S_NY], st[S_NZ] = nx + head[0], ny + head[1], nz + head[2]
        st[S_HEAD_YAW] = _head_yaw(head)
        if snap or st[S_INIT] == 0.0:
            if st[S_HEAD_YAW] == st[S_HEAD_YAW]:
                st[S_YAW] = st[S_HEAD_YAW]
            c, s = np.cos(st[S_YAW]), np.sin(st[S_YAW])
            st[S_OX] = st[S_NX] - s * prm[P_OFF_Y]
            st[S_OY] = st[S_NY] + c * prm[P_OFF_Y]
            st[S_OZ] = st[S_NZ] + prm[P_OFF_Z]
            st[S_INIT], st[S_BOUND] = 1.0, 0.0
            st[S_TURN_YAW] = st[S_YAW]
            event = EV_RECENTER
    if ref_valid and st[S_INIT] != 0.0:
        if st[S_BOUND] == 0.0:
            _bind(ref, st)
        else:
            ref_yaw = _axis_yaw(ref, int(st[S_AXIS]))
            if ref_yaw == ref_yaw:
                err = _wrap(ref_yaw + st[S_REF_YAW] - st[S_YAW])
                step = err * (1.0 - np.exp(-dt / prm[P_TAU]))
                limit = prm[P_MAX_RATE] * dt
                st[S_YAW] = _wrap(st[S_YAW] + max(-limit, min(limit, step)))
                c, s = np.cos(st[S_YAW]), np.sin(st[S_YAW])
                dx = ref[0] + c * st[S_REF_X] - s * st[S_REF_Y] - st[S_OX]
                dy = ref[1] + s * st[S_REF_X] + c * st[S_REF_Y] - st[S_OY]
                d = np.hypot(dx, dy)
                limit = prm[P_MAX_SHIFT] * dt
                k = 1.0 if d <= limit else limit / d
                st[S_OX] += k * dx
                st[S_OY] += k * dy
                target = _wrap(ref_yaw + st[S_REF_YAW])
                if abs(err) < prm[P_SETTLE] and \
                        abs(_wrap(target - st[S_TURN_YAW])) >= prm[P_TURN_MIN]:
                    st[S_TURN_FROM], st[S_TURN_YAW] = st[S_TURN_YAW], target
                    event = EV_TURNED
    # outputs (held when nothing moves the frame)
    c, s = np.cos(st[S_YAW]), np.sin(st[S_YAW])
    pose[0], pose[1], pose[2] = st[S_OX], st[S_OY], st[S_OZ]
    pose[3], pose[4], pose[5], pose[6] = 0.0, 0.0, np.sin(0.5 * st[S_YAW]), np.cos(0.5 * st[S_YAW])
    normal[0], normal[1], normal[2] = c, s, 0.0
    for side in range(2):
        sign = 2.0 * side - 1.0
        lx = sign * prm[P_SH_LAT]
        shoulders[side, 0] = st[S_OX] + c * lx
        shoulders[side, 1] = st[S_OY] + s * lx
        shoulders[side, 2] = st[S_OZ]
        lx = sign * prm[P_HIP_LAT]
        ly = prm[P_HIP_FWD]
        hips[side, 0] = st[S_OX] + c * lx - s * ly
        hips[side, 1] = st[S_OY] + s * lx + c * ly
        hips[side, 2] = st[S_OZ] - prm[P_HIP_DROP]
    return event


class TorsoTracker:
    """Seated body frame, shoulders, hips and sagittal plane, updated once per frame."""

    def __init__(self, lengths: SegmentLengths, body: BodySettings | None = None) -> None:
        body = body or BodySettings()
        self.lengths = lengths
        self.params = np.zeros(P_COUNT)
        p = self.params
        p[P_TAU], p[P_MAX_RATE] = body.tracker_tau_s, np.radians(body.max_turn_dps)
        p[P_MAX_SHIFT], p[P_TURN_MIN] = body.max_shift_mps, np.radians(body.turn_min_deg)
        p[P_SETTLE] = np.radians(body.turn_settle_deg)
        self._defaults()
        self.state = np.zeros(S_COUNT)
        #: torso pose (7,): origin at the shoulder midpoint, yaw only
        self.pose = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        self.shoulders = np.zeros((2, 3))
        self.hips = np.zeros((2, 3))
        self.turns = TurnDetector(body)
        #: what happened to the frame, oldest first: (kind, data) for the session to record
        self.notes: deque[tuple[str, dict[str, Any]]] = deque(maxlen=NOTES_KEPT)
        self._normal = np.array([1.0, 0.0, 0.0])
        self._last_head = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        self._last_ref = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0])
        self._have_head = False
        self._ref_index, self._ref_ok = -1, False
        self._pending: str | None = None
        self._source = "session_start"
        self.calibrated = False

    def _defaults(self) -> None:
        L, p = self.lengths, self.params
        p[P_EYE_FWD], p[P_EYE_UP] = EYE_FROM_NECK
        p[P_OFF_Y] = 0.0
        p[P_OFF_Z] = -(L.eye_height_seated - L.shoulder_height_seated - EYE_FROM_NECK[1])
        p[P_SH_LAT] = 0.5 * L.shoulder_joint_spacing
        p[P_HIP_LAT] = 0.5 * L.hip_joint_spacing
        p[P_HIP_FWD] = 0.0
        p[P_HIP_DROP] = L.shoulder_height_seated - L.hip_height_seated

    @property
    def initialized(self) -> bool:
        """True once a valid head pose has been seen (or after calibration)."""
        return self.state[S_INIT] != 0.0

    @property
    def yaw(self) -> float:
        """Torso yaw in radians about +z (0 = facing +y)."""
        return float(self.state[S_YAW])

    @property
    def tracker_bound(self) -> bool:
        """True while a waist or chest tracker turns the frame."""
        return self.state[S_BOUND] != 0.0

    @property
    def turn_suspected(self) -> bool:
        """True while the body may have turned without a tracker to say so (Recenter?)."""
        return self.turns.suspected

    def update(self, frame: TrackingFrame, dt: float) -> np.ndarray:
        """Advance by ``dt`` seconds with this frame; returns :attr:`pose` (held while
        nothing but the head moves). A requested recenter is applied with this frame's head.
        Allocates nothing (except a note when something happened)."""
        snap = self._pending is not None and bool(frame.head_valid)
        if snap:
            self._source, self._pending = self._pending, None
            self._ref_index = -1
        if frame.head_valid:
            self._last_head[:] = frame.head
            self._have_head = True
        if self._ref_index < 0:
            for role in _REFERENCE_ROLES:
                if frame.tracker_valid[TRACKER_INDEX[role]]:
                    self._ref_index = TRACKER_INDEX[role]
                    break
        r = self._ref_index
        ref_ok = r >= 0 and bool(frame.tracker_valid[r])
        self._ref_ok = ref_ok
        if ref_ok:
            self._last_ref[:] = frame.tracker[r]
        event = torso_update_kernel(frame.head, bool(frame.head_valid), frame.tracker[max(r, 0)],
                                    ref_ok, float(dt), snap, self.params, self.state, self.pose,
                                    self.shoulders, self.hips, self._normal)
        self._note(event)
        return self.pose

    def check_turn(self, point: np.ndarray, point_valid: bool, dt: float) -> None:
        """Without a bound tracker: weigh this frame's evidence of a chair turn
        (:mod:`vrgmi.body.turns`); ``point`` (3,) is a point of the intact hand or foot,
        ``point_valid`` whether it is tracked now. Call after :meth:`update`."""
        if self.tracker_bound or not self.initialized:
            return
        st = self.state
        event = self.turns.update(st[S_HEAD_YAW], st[S_NX:S_NZ + 1], point, point_valid,
                                  st[S_YAW], dt)
        if event == EV_SUSPECTED:
            self.notes.append(("body_turn_suspected", {
                "angle_deg": round(float(np.degrees(self.turns.angle)), 1),
                "evidence": self.turns.evidence}))
        elif event == EV_CLEARED:
            self.notes.append(("body_turn_cleared", {"reason": "turned back"}))

    def _note(self, event: int) -> None:
        if event == EV_RECENTER:
            self.turns.reset()
            role = next((r for r in _REFERENCE_ROLES if self.tracker_bound
                         and TRACKER_INDEX[r] == self._ref_index), "")
            self.notes.append(("recenter", {"source": self._source,
                                            "yaw_deg": round(float(np.degrees(self.yaw)), 1),
                                            "tracker": role}))
        elif event == EV_TURNED:
            self.notes.append(("body_turned", {
                "from_deg": round(float(np.degrees(self.state[S_TURN_FROM])), 1),
                "to_deg": round(float(np.degrees(self.state[S_TURN_YAW])), 1),
                "source": "tracker"}))

    def request_recenter(self, source: str) -> None:
        """Recenter with the next frame that tracks the head ("forward" = where the patient
        faces then); ``source`` says who asked (companion, key, menu_hold...)."""
        self._pending = source

    def recenter(self, source: str = "recenter") -> None:
        """Snap the frame to the last tracked head now (yaw and position), no smoothing; a
        waist or chest tracker tracked then is bound to it."""
        if not self._have_head:
            raise CalibrationError("cannot recenter: the headset has not been tracked yet")
        self._source = source
        event = torso_update_kernel(self._last_head, True, self._last_ref, self._ref_ok, 0.0, True,
                                    self.params, self.state, self.pose, self.shoulders,
                                    self.hips, self._normal)
        self._note(event)

    def shoulder(self, side: int | str) -> np.ndarray:
        """World position (3,) of the left/right shoulder joint (a view, updated in place)."""
        return self.shoulders[side_index(side)]

    def hip(self, side: int | str) -> np.ndarray:
        """World position (3,) of the left/right hip joint (a view, updated in place)."""
        return self.hips[side_index(side)]

    def sagittal_plane(self) -> tuple[np.ndarray, np.ndarray]:
        """(point, unit normal) of the body's midline plane; the normal is the right axis."""
        return self.pose[:3], self._normal

    def calibrate(self, frames: Sequence[TrackingFrame], posture: str = "arms_down") -> None:
        """Fix the torso from ~1-2 s of frames of the patient seated upright, looking ahead.

        ``posture`` 'arms_down' (arms hanging relaxed): each tracked controller gives its
        shoulder (wrist + upper arm + forearm straight up), hence the shoulder spacing and
        the shoulder height and depth below the neck. 'hands_on_knees': each tracked
        controller marks a knee, hence the hip spacing and depth (thigh level). Knee
        trackers, where present, mark the knees in either posture; a waist or chest tracker
        present throughout becomes the yaw reference. Raises CalibrationError (one line);
        a failed calibration leaves the previous one in force.
        """
        kept = self.params.copy(), self._ref_index, self._ref_ok
        try:
            self._calibrate(frames, posture)
        except CalibrationError:
            self.params[:], self._ref_index, self._ref_ok = kept
            raise

    def _calibrate(self, frames: Sequence[TrackingFrame], posture: str) -> None:
        if posture not in ("arms_down", "hands_on_knees"):
            raise CalibrationError(
                f"posture {posture!r} is not 'arms_down' or 'hands_on_knees'")
        heads = np.array([f.head for f in frames if f.head_valid])
        if len(heads) < 10:
            raise CalibrationError(
                f"calibration needs at least 10 frames with the headset tracked, got "
                f"{len(heads)}; record 1-2 s")
        if np.max(np.linalg.norm(heads[:, :3] - heads[:, :3].mean(axis=0), axis=1)) > 0.08:
            raise CalibrationError("the head moved more than 8 cm during calibration; sit "
                                   "still, upright, looking ahead, and try again")
        yaws = np.array([_head_yaw(h) for h in heads])
        if np.isnan(yaws).any():
            raise CalibrationError("look ahead (not up or down) during calibration")
        self._defaults()
        yaw = float(np.arctan2(np.sin(yaws).mean(), np.cos(yaws).mean()))
        necks = np.array([h[:3] + np.array(_neck(h, self.params)) for h in heads])
        neck = necks.mean(axis=0)
        c, s = np.cos(yaw), np.sin(yaw)

        def local(p: np.ndarray) -> np.ndarray:     # world point -> torso axes about the neck
            d = p - neck
            return np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])

        L, prm = self.lengths, self.params
        shoulder_pts, knee_pts = [], []
        for side in (0, 1):
            grips = [f.grip[side] for f in frames if f.grip_valid[side]]
            if len(grips) * 2 >= len(frames):
                grip = np.mean(grips, axis=0)
                grip[3:] /= np.linalg.norm(grip[3:])
                if posture == "arms_down":
                    wrist = wrist_from_grip(grip, side, np.zeros(7))
                    shoulder_pts.append((side, local(wrist[:3] + [0, 0, L.upper_arm + L.forearm])))
                else:
                    knee_pts.append((side, local(grip[:3])))
            role = TRACKER_INDEX[f"{SIDES[side]}_knee"]
            knees = [f.tracker[role, :3] for f in frames if f.tracker_valid[role]]
            if posture == "arms_down" and len(knees) * 2 >= len(frames):
                knee_pts.append((side, local(np.mean(knees, axis=0))))
        if shoulder_pts:
            lat = np.mean([abs(p[0]) for _, p in shoulder_pts])
            for side, p in shoulder_pts:
                if not (0.08 <= abs(p[0]) <= 0.30 and -0.45 <= p[2] <= -0.05):
                    raise CalibrationError(
                        f"the {SIDES[side]} controller puts the shoulder {abs(p[0]):.2f} m "
                        f"beside and {-p[2]:.2f} m below the neck (expected 0.08..0.30 and "
                        "0.05..0.45); sit upright, arms hanging relaxed, and try again")
            prm[P_SH_LAT] = lat
            prm[P_OFF_Y] = np.mean([p[1] for _, p in shoulder_pts])
            prm[P_OFF_Z] = np.mean([p[2] for _, p in shoulder_pts])
        for side, p in knee_pts:
            if not (0.04 <= abs(p[0]) <= 0.30 and 0.05 <= p[1] <= 0.9):
                raise CalibrationError(
                    f"the {SIDES[side]} knee is {abs(p[0]):.2f} m beside and {p[1]:.2f} m in "
                    "front of the neck (expected 0.04..0.30 and 0.05..0.90); sit upright with "
                    "the hands on the knees and try again")
        if knee_pts:
            prm[P_HIP_LAT] = np.mean([abs(p[0]) for _, p in knee_pts])
            prm[P_HIP_FWD] = np.mean([p[1] for _, p in knee_pts]) - L.thigh - prm[P_OFF_Y]
        self._ref_index, self._ref_ok = -1, False
        for role in _REFERENCE_ROLES:
            i = TRACKER_INDEX[role]
            if all(f.tracker_valid[i] for f in frames):
                self._last_ref[:] = np.mean([f.tracker[i] for f in frames], axis=0)
                self._last_ref[3:] /= np.linalg.norm(self._last_ref[3:])
                self._ref_index, self._ref_ok = i, True
                break
        head = heads[-1].copy()
        head[3:] = [0.0, 0.0, np.sin(0.5 * yaw), np.cos(0.5 * yaw)]
        head[:3] = neck - np.array(_neck(head, prm))      # a level head at the mean neck
        self._last_head[:] = head
        self._have_head = True
        self.recenter("calibration")
        self.calibrated = True
